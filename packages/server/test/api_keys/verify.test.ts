import { adminApiKeys } from '@clavis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { post } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import {
  ADMIN,
  type Caller,
  createKey,
  exchange,
  INVALID_EXCHANGE,
  INVALID_VERIFY,
  keyAdminDeps,
  keyRow,
  OUTSIDE_ALLOW_LIST,
  registerCaller,
  verify,
} from './support.js';

describe.each(dialects)('API key verify endpoint (%s)', (dialect) => {
  let server: TestServer;
  let owner: Caller;
  let rs: Caller;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    owner = await registerCaller(server, { scopes: ['read', 'write'] });
    rs = await registerCaller(server, { scopes: [] });
  });
  afterAll(() => server.close());

  describe('200', () => {
    it('describes the key to an authenticated resource server; no-store', async () => {
      const { id, key } = await createKey(server, {
        owner: owner.id,
        scopes: ['read', 'write'],
        name: 'nightly export',
        maxUses: 5,
        ttlSeconds: 600,
      });
      const res = await verify(server, rs, { key, ip: '198.51.100.7', scope: 'read' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({
        active: true,
        key_id: id,
        name: 'nightly export',
        owner: owner.id,
        owner_type: 'client',
        sub: owner.id,
        client_id: owner.id,
        scope: 'read write',
        expires_at: Math.floor(server.clock.now / 1000) + 600,
        remaining_uses: 4,
      });
      const row = await keyRow(server, id);
      expect(Number(row.uses)).toBe(1);
      expect(row.last_used_ip).toBe('198.51.100.7');
    });

    it("a person's key names them as user:USERNAME; unlimited keys report remaining_uses null", async () => {
      const person = await createUser(server);
      const { id, key } = await createKey(server, { owner: `user:${person.username}`, scopes: ['deploy'] });
      const res = await verify(server, rs, { key });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({
        key_id: id,
        owner: `user:${person.username}`,
        owner_type: 'user',
        sub: person.id,
        scope: 'deploy',
        remaining_uses: null,
      });
      expect(res.json()).not.toHaveProperty('client_id');
    });
  });

  describe('401', () => {
    it('AK-03: unknown, wrong, revoked, expired and exhausted keys are one identical 401; each audited', async () => {
      const revoked = await createKey(server, { owner: owner.id });
      await adminApiKeys.revokeApiKey(keyAdminDeps(server), revoked.id, ADMIN);
      const expired = await createKey(server, { owner: owner.id, ttlSeconds: 60 });
      const exhausted = await createKey(server, { owner: owner.id, maxUses: 1 });
      expect((await verify(server, rs, { key: exhausted.key })).statusCode).toBe(200);
      server.clock.advanceSeconds(60);
      const { generateApiKey } = await import('@clavis/core');
      const presented = [
        'clv_short',
        `${revoked.key.slice(0, -1)}${revoked.key.endsWith('0') ? '1' : '0'}`,
        generateApiKey(),
        revoked.key,
        expired.key,
        exhausted.key,
        'x'.repeat(5000),
      ];
      const before = (await auditRecords(server, 'api_key.use_denied')).length;
      const bodies = new Set<string>();
      for (const key of presented) {
        await server.failures.flush(); // each refusal the first of its kind in its window: recorded
        const res = await verify(server, rs, { key });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual(INVALID_VERIFY);
        bodies.add(res.body);
      }
      expect(bodies.size).toBe(1);
      const denied = (await auditRecords(server, 'api_key.use_denied')).slice(before);
      expect(denied.map((r) => r.detail.reason)).toEqual([
        'malformed',
        'bad_checksum',
        'unknown',
        'revoked',
        'expired',
        'exhausted',
        'malformed',
      ]);
      expect(denied.every((r) => r.client_id === rs.id && r.detail.via === 'verify')).toBe(true);
    });

    it('the resource server must authenticate', async () => {
      const { key } = await createKey(server, { owner: owner.id });
      const res = await post(server, '/oauth/api-keys/verify', { key });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('invalid_client');
      const wrong = await verify(server, { id: rs.id, secret: 'wrong' }, { key });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().error).toBe('invalid_client');
    });
  });

  describe('400', () => {
    it('missing key, a malformed ip (zone ids included) or scope', async () => {
      const { key } = await createKey(server, { owner: owner.id });
      const cases: Array<Record<string, string>> = [
        {},
        { key, ip: 'fe80::1%eth0' },
        { key, ip: '10.0.0.300' },
        { key, scope: 'a  b' },
      ];
      for (const params of cases) {
        const res = await verify(server, rs, params);
        expect(res.statusCode, JSON.stringify(params)).toBe(400);
        expect(res.json().error).toBe('invalid_request');
      }
    });
  });

  describe('403', () => {
    it('AK-04: a scope the key does not carry is insufficient_scope and uses nothing', async () => {
      const { id, key } = await createKey(server, { owner: owner.id, scopes: ['read'], maxUses: 1 });
      const res = await verify(server, rs, { key, scope: 'read write' });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({
        error: 'insufficient_scope',
        error_description: 'the API key does not carry the scope this call needs',
      });
      expect(Number((await keyRow(server, id)).uses)).toBe(0);
      const denied = await auditRecords(server, 'api_key.use_denied');
      expect(denied.some((r) => r.detail.api_key_id === id && r.detail.reason === 'insufficient_scope')).toBe(
        true,
      );
    });

    it('an allow-listed key with no ip given is denied, recorded as address_missing', async () => {
      const { id, key } = await createKey(server, { owner: owner.id, cidrs: ['10.0.0.0/8'] });
      const res = await verify(server, rs, { key });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toBe('access_denied');
      const denied = await auditRecords(server, 'api_key.use_denied');
      expect(denied.some((r) => r.detail.api_key_id === id && r.detail.reason === 'address_missing')).toBe(
        true,
      );
    });

    it('AK-02: IPv4-mapped IPv6, CIDR edges (/32, /24, /0), IPv6 ranges', async () => {
      const cases: Array<[string[], string, 200 | 403]> = [
        [['10.0.0.0/24'], '::ffff:10.0.0.1', 200],
        [['10.0.0.0/24'], '::FFFF:10.0.0.255', 200],
        [['10.0.0.0/24'], '10.0.0.0', 200],
        [['10.0.0.0/24'], '10.0.0.255', 200],
        [['10.0.0.0/24'], '10.0.1.0', 403],
        [['10.0.0.0/24'], '9.255.255.255', 403],
        [['10.0.0.0/24'], '::ffff:10.0.1.0', 403],
        [['203.0.113.7/32'], '203.0.113.7', 200],
        [['203.0.113.7/32'], '203.0.113.8', 403],
        [['203.0.113.7'], '203.0.113.7', 200],
        [['0.0.0.0/0'], '255.255.255.255', 200],
        [['0.0.0.0/0'], '2001:db8::1', 403],
        [['2001:db8::/32'], '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', 200],
        [['2001:db8::/32'], '2001:db9::', 403],
        [['2001:db8::/32'], '10.0.0.1', 403],
        [['2001:db8::1/128'], '2001:0db8:0000:0000:0000:0000:0000:0001', 200],
        [['::/0'], '::1', 200],
        [['10.0.0.0/8', '2001:db8::/32'], '2001:db8::5', 200],
      ];
      for (const [cidrs, ip, expected] of cases) {
        const { key } = await createKey(server, { owner: owner.id, cidrs });
        const res = await verify(server, rs, { key, ip });
        expect(res.statusCode, `${cidrs.join(',')} ← ${ip}`).toBe(expected);
      }
    });

    it('AK-02: zone ids, host bits and bad prefixes are refused when the key is created', async () => {
      for (const cidr of [
        'fe80::1%eth0',
        'fe80::%eth0/64',
        '10.0.0.1/24',
        '10.0.0.0/33',
        '10.0.0.0/08',
        '::ffff:10.0.0.0/104',
        'nonsense',
        '10.0.0.0/24/1',
        '2001:db8::/129',
      ]) {
        await expect(createKey(server, { owner: owner.id, cidrs: [cidr] }), cidr).rejects.toMatchObject({
          name: 'AdminError',
          code: 'invalid_input',
        });
      }
    });
  });

  describe('429', () => {
    it('over the rate limit, with Retry-After', async () => {
      const { key } = await createKey(server, { owner: owner.id, rateLimit: 1 });
      server.clock.now = Math.floor(server.clock.now / 60_000) * 60_000;
      expect((await verify(server, rs, { key })).statusCode).toBe(200);
      const res = await verify(server, rs, { key });
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('60');
    });
  });
});

describe.each(dialects)('AK-01: X-Forwarded-For is believed only from a trusted proxy (%s)', (dialect) => {
  let direct: TestServer;
  let proxied: TestServer;
  let owner: Caller;
  let key: string;

  beforeAll(async () => {
    direct = await createTestServer(dialect);
    proxied = await createTestServer(dialect, {
      database: direct.database,
      config: { trustedProxies: ['127.0.0.1'] },
    });
    owner = await registerCaller(direct);
    ({ key } = await createKey(direct, { owner: owner.id, cidrs: ['10.1.2.0/24'] }));
  });
  afterAll(async () => {
    await proxied.close();
    await direct.close();
  });

  it('AK-01: a caller outside the allow-list spoofing X-Forwarded-For gets 400 invalid_request at the token endpoint (RFC 6749 §5.2), audited', async () => {
    for (const server of [direct, proxied]) {
      const res = await exchange(
        server,
        key,
        {},
        { remoteAddress: '203.0.113.9', headers: { 'x-forwarded-for': '10.1.2.3' } },
      );
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(OUTSIDE_ALLOW_LIST);
    }
    const denied = await auditRecords(direct, 'api_key.use_denied');
    expect(
      denied.filter((r) => r.detail.reason === 'address_not_allowed' && r.ip === '203.0.113.9'),
    ).toHaveLength(2);
  });

  it('without trusted proxies, even a loopback peer cannot claim an address', async () => {
    const res = await exchange(
      direct,
      key,
      {},
      { remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '10.1.2.3' } },
    );
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual(OUTSIDE_ALLOW_LIST);
  });

  it('behind a configured proxy, the forwarded client address is the one checked', async () => {
    const ok = await exchange(
      proxied,
      key,
      {},
      { remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '10.1.2.3' } },
    );
    expect(ok.statusCode, ok.body).toBe(200);
    const outside = await exchange(
      proxied,
      key,
      {},
      { remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '198.51.100.1' } },
    );
    expect(outside.statusCode).toBe(400);
    // The proxy appends the real peer; a value the client wrote first is not believed.
    const spoofed = await exchange(
      proxied,
      key,
      {},
      {
        remoteAddress: '127.0.0.1',
        headers: { 'x-forwarded-for': '10.1.2.3, 198.51.100.1' },
      },
    );
    expect(spoofed.statusCode).toBe(400);
  });

  it('a peer inside the allow-list is accepted directly', async () => {
    const res = await exchange(direct, key, {}, { remoteAddress: '10.1.2.200' });
    expect(res.statusCode, res.body).toBe(200);
    const mapped = await exchange(direct, key, {}, { remoteAddress: '::ffff:10.1.2.201' });
    expect(mapped.statusCode, mapped.body).toBe(200);
  });
});

describe.each(dialects)('AK-03: expiry, rotation overlap, stored hashed (%s)', (dialect) => {
  let server: TestServer;
  let owner: Caller;
  let rs: Caller;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    owner = await registerCaller(server);
    rs = await registerCaller(server);
  });
  afterAll(() => server.close());

  it('an expired key stops at the second it expires, no sweep needed', async () => {
    const { key } = await createKey(server, { owner: owner.id, ttlSeconds: 60 });
    server.clock.advanceSeconds(59);
    expect((await verify(server, rs, { key })).statusCode).toBe(200);
    server.clock.advanceSeconds(1);
    expect((await verify(server, rs, { key })).statusCode).toBe(401);
    const res = await exchange(server, key);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual(INVALID_EXCHANGE);
  });

  it('after rotation both keys work through the grace period; then the old one is 401 / 400', async () => {
    const old = await createKey(server, { owner: owner.id, ttlSeconds: 86_400 });
    const rotated = await adminApiKeys.rotateApiKey(
      keyAdminDeps(server),
      old.id,
      { graceSeconds: 3600 },
      ADMIN,
    );
    expect((await verify(server, rs, { key: old.key })).statusCode).toBe(200);
    expect((await verify(server, rs, { key: rotated.plaintext })).statusCode).toBe(200);
    server.clock.advanceSeconds(3600);
    expect((await verify(server, rs, { key: old.key })).statusCode).toBe(401);
    expect((await exchange(server, old.key)).statusCode).toBe(400);
    expect((await verify(server, rs, { key: rotated.plaintext })).statusCode).toBe(200);
    const audit = (await auditRecords(server, 'api_key.rotate')).filter(
      (r) => r.detail.api_key_id === old.id,
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]?.detail.successor_id).toBe(rotated.key.id);
  });

  it('the database holds only the keyed hash; views never carry the key', async () => {
    const { id, key, view } = await createKey(server, { owner: owner.id });
    expect(JSON.stringify(view)).not.toContain(key);
    const row = await keyRow(server, id);
    expect(JSON.stringify(row)).not.toContain(key);
    expect(row.key_hash).toBe(server.services.hasher.hash(key));
    const shown = await adminApiKeys.showApiKey(keyAdminDeps(server), id);
    expect(JSON.stringify(shown)).not.toContain(key);
    expect(shown).not.toHaveProperty('key');
  });
});
