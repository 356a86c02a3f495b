import { generateApiKey } from '@clavis/core';
import { adminApiKeys, sweepIdleApiKeys } from '@clavis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import { ADMIN, type Caller, createKey, keyAdminDeps, keyRow, registerCaller, verify } from './support.js';

const INACTIVE = '{"active":false}';

function report(
  server: Pick<TestServer, 'app'>,
  body: string,
  from = '198.51.100.50',
  contentType = 'application/json',
) {
  return server.app.inject({
    method: 'POST',
    url: '/oauth/api-keys/leaks',
    headers: { 'content-type': contentType },
    payload: body,
    remoteAddress: from,
  });
}

describe.each(dialects)('introspection of API keys (%s)', (dialect) => {
  let server: TestServer;
  let owner: Caller;
  let rs: Caller;

  function introspect(token: string, extra: Record<string, string> = {}) {
    return post(server, '/oauth/introspect', { token, ...extra }, { authorization: basic(rs.id, rs.secret) });
  }

  beforeAll(async () => {
    server = await createTestServer(dialect);
    owner = await registerCaller(server, { scopes: ['read', 'write'] });
    rs = await registerCaller(server);
  });
  afterAll(() => server.close());

  it('a live key: the RFC 7662 members for the key; introspection is not a use', async () => {
    const { id, key } = await createKey(server, {
      owner: owner.id,
      scopes: ['read', 'write'],
      maxUses: 1,
      ttlSeconds: 600,
    });
    for (const hint of [undefined, 'api_key', 'access_token']) {
      const res = await introspect(key, hint ? { token_type_hint: hint } : {});
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({
        active: true,
        token_type: 'api_key',
        iss: 'https://as.clavis.test',
        sub: owner.id,
        client_id: owner.id,
        scope: 'read write',
        exp: Math.floor(server.clock.now / 1000) + 600,
        iat: Math.floor(server.clock.now / 1000),
        api_key_id: id,
      });
    }
    const row = await keyRow(server, id);
    expect(Number(row.uses)).toBe(0);
    expect(row.last_used_at).toBeNull();
    expect((await verify(server, rs, { key })).statusCode).toBe(200);
  });

  it("a person's key: sub is the person, client_id the key", async () => {
    const person = await createUser(server);
    const { id, key } = await createKey(server, { owner: `user:${person.username}` });
    expect((await introspect(key)).json()).toMatchObject({ active: true, sub: person.id, client_id: id });
  });

  it('revoked, expired, exhausted, unknown and mistyped keys: exactly {"active":false}', async () => {
    const revoked = await createKey(server, { owner: owner.id });
    await adminApiKeys.revokeApiKey(keyAdminDeps(server), revoked.id, ADMIN);
    const exhausted = await createKey(server, { owner: owner.id, maxUses: 1 });
    expect((await verify(server, rs, { key: exhausted.key })).statusCode).toBe(200);
    const expired = await createKey(server, { owner: owner.id, ttlSeconds: 10 });
    server.clock.advanceSeconds(10);
    for (const token of [
      revoked.key,
      exhausted.key,
      expired.key,
      generateApiKey(),
      `${revoked.key.slice(0, -1)}!`,
      'clv_x',
    ]) {
      const res = await introspect(token, { token_type_hint: 'api_key' });
      expect(res.statusCode).toBe(200);
      expect(res.payload).toBe(INACTIVE);
    }
  });

  it('introspection still requires client authentication', async () => {
    const { key } = await createKey(server, { owner: owner.id });
    const res = await post(server, '/oauth/introspect', { token: key });
    expect(res.statusCode).toBe(401);
  });
});

describe.each(dialects)('leak reports (%s)', (dialect) => {
  let server: TestServer;
  let owner: Caller;
  let rs: Caller;

  beforeAll(async () => {
    server = await createTestServer(dialect, { config: { apiKeyLeakReportsPerIpPerMinute: 5 } });
    owner = await registerCaller(server);
    rs = await registerCaller(server);
  });
  afterAll(() => server.close());

  it('revokes every valid live key reported, at once; says how many, nothing about whose', async () => {
    const a = await createKey(server, { owner: owner.id });
    const b = await createKey(server, { owner: owner.id });
    const spare = await createKey(server, { owner: owner.id });
    const body = JSON.stringify([
      {
        token: a.key,
        type: 'clavis_api_key',
        url: 'https://github.com/o/r/blob/main/ci.yml',
        source: 'content',
      },
      { token: b.key, type: 'clavis_api_key', url: 'https://gist.github.com/x', source: 'gist' },
      {
        token: a.key,
        type: 'clavis_api_key',
        url: 'https://github.com/o/r/blob/main/dup',
        source: 'content',
      },
      { token: generateApiKey(), type: 'clavis_api_key', url: 'https://example.com', source: 'content' },
      { token: 'clv_notakey', type: 'clavis_api_key', url: 'https://example.com', source: 'content' },
    ]);
    const res = await report(server, body);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({ reported: 5, revoked: 2 });
    expect(res.body).not.toContain(owner.id);
    for (const k of [a, b]) {
      expect(await keyRow(server, k.id)).toMatchObject({ revoked_reason: 'leaked' });
      expect((await verify(server, rs, { key: k.key })).statusCode).toBe(401);
    }
    expect((await verify(server, rs, { key: spare.key })).statusCode).toBe(200);
    const leaked = await auditRecords(server, 'api_key.leaked');
    expect(leaked.map((r) => r.detail.api_key_id).sort()).toEqual([a.id, b.id].sort());
    expect(leaked.find((r) => r.detail.api_key_id === a.id)?.detail).toMatchObject({
      url: 'https://github.com/o/r/blob/main/ci.yml',
      source: 'content',
    });
    const text = JSON.stringify(await auditRecords(server, 'api_key.leak_report')) + JSON.stringify(leaked);
    expect(text).not.toContain(a.key);
    expect(text).not.toContain(b.key);
    // Reported again: nothing left to revoke.
    const again = await report(server, JSON.stringify([{ token: a.key }]));
    expect(again.json()).toEqual({ reported: 1, revoked: 0 });
  });

  it('malformed JSON, a non-array, bad entries, too many entries, a form body: 400, nothing revoked', async () => {
    const k = await createKey(server, { owner: owner.id });
    const tooMany = JSON.stringify(Array.from({ length: 101 }, () => ({ token: k.key })));
    const cases: Array<[string, string]> = [
      ['[{"token":', 'application/json'],
      ['{"token":"x"}', 'application/json'],
      ['[{"url":"x"}]', 'application/json'],
      ['[{"token":42}]', 'application/json'],
      ['["clv_x"]', 'application/json'],
      [`[{"token":"${k.key}","url":7}]`, 'application/json'],
      [tooMany, 'application/json'],
      [`token=${k.key}`, 'application/x-www-form-urlencoded'],
    ];
    for (const [i, [body, type]] of cases.entries()) {
      const res = await report(server, body, `198.51.100.${100 + i}`, type);
      expect(res.statusCode, body.slice(0, 40)).toBe(400);
      expect(res.json().error).toBe('invalid_request');
    }
    expect((await keyRow(server, k.id)).revoked_at).toBeNull();
  });

  it('rate limited per reporting address, across instances', async () => {
    const second = await createTestServer(dialect, {
      database: server.database,
      clock: server.clock,
      config: { apiKeyLeakReportsPerIpPerMinute: 5 },
    });
    try {
      server.clock.now = Math.floor(server.clock.now / 60_000) * 60_000;
      const codes: number[] = [];
      for (let i = 0; i < 6; i++)
        codes.push((await report(i % 2 ? second : server, '[]', '203.0.113.77')).statusCode);
      expect(codes).toEqual([200, 200, 200, 200, 200, 429]);
      expect((await report(server, '[]', '203.0.113.78')).statusCode).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('JSON is accepted on this route only', async () => {
    const res = await server.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/json' },
      payload: '{"grant_type":"client_credentials"}',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_request');
  });
});

describe.each(dialects)('idle sweep (%s)', (dialect) => {
  let a: TestServer;
  let b: TestServer;
  let owner: Caller;
  let rs: Caller;
  const DAY = 86_400;

  beforeAll(async () => {
    a = await createTestServer(dialect);
    b = await createTestServer(dialect, { database: a.database, clock: a.clock });
    owner = await registerCaller(a);
    rs = await registerCaller(a);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  const sweep = (server: TestServer) =>
    sweepIdleApiKeys(
      { db: server.services.db, audit: server.services.audit, clock: server.clock.read },
      server.config.apiKeyIdleRevokeSeconds,
    );

  it('revokes keys unused for the idle period, by the clock; used, fresh and expired keys are left', async () => {
    const idle = await createKey(a, { owner: owner.id, ttlSeconds: 80 * DAY });
    const used = await createKey(a, { owner: owner.id, ttlSeconds: 80 * DAY, maxUses: 10 });
    const shortLived = await createKey(a, { owner: owner.id, ttlSeconds: 10 * DAY });
    a.clock.advanceSeconds(20 * DAY);
    expect((await verify(a, rs, { key: used.key })).statusCode).toBe(200);
    const fresh = await createKey(a, { owner: owner.id, ttlSeconds: 80 * DAY });
    a.clock.advanceSeconds(10 * DAY);
    expect(await sweep(a)).toEqual([]);
    a.clock.advanceSeconds(1);
    expect(await sweep(a)).toEqual([idle.id]);
    expect(await keyRow(a, idle.id)).toMatchObject({ revoked_reason: 'idle' });
    for (const k of [used, fresh]) expect((await keyRow(a, k.id)).revoked_at).toBeNull();
    expect((await keyRow(a, shortLived.id)).revoked_at).toBeNull();
    expect((await verify(a, rs, { key: idle.key })).statusCode).toBe(401);
    const audit = (await auditRecords(a, 'api_key.idle_revoke')).filter(
      (r) => r.detail.api_key_id === idle.id,
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]?.actor_type).toBe('system');
  });

  it('two instances sweeping at once revoke and audit each key exactly once', async () => {
    const keys = await Promise.all(
      Array.from({ length: 8 }, () => createKey(a, { owner: owner.id, ttlSeconds: 80 * DAY })),
    );
    a.clock.advanceSeconds(31 * DAY);
    const [fromA, fromB] = await Promise.all([sweep(a), sweep(b)]);
    const all = [...fromA, ...fromB];
    expect(new Set(all).size).toBe(all.length);
    for (const k of keys) expect(all).toContain(k.id);
    const audit = await auditRecords(a, 'api_key.idle_revoke');
    for (const k of keys) expect(audit.filter((r) => r.detail.api_key_id === k.id)).toHaveLength(1);
  });
});
