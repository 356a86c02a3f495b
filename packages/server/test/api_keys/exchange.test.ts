import { adminApiKeys } from '@clavis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { jwtClaims } from '../../../../test/support/jwt.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import {
  ADMIN,
  API_KEY_TYPE,
  createKey,
  exchange,
  INVALID_EXCHANGE,
  keyAdminDeps,
  registerCaller,
} from './support.js';

describe.each(dialects)('API key → token exchange (%s)', (dialect) => {
  let server: TestServer;
  let owner: Awaited<ReturnType<typeof registerCaller>>;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    owner = await registerCaller(server, {
      scopes: ['read', 'write', 'admin'],
      audiences: ['https://api.example'],
      tokenTtlSeconds: 300,
    });
  });
  afterAll(() => server.close());

  describe('200', () => {
    it('issues a short-lived access token for the owning client that names the key; no refresh token', async () => {
      const { id, key } = await createKey(server, { owner: owner.id, scopes: ['read', 'write'] });
      const res = await exchange(server, key);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json();
      expect(body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 300,
        scope: 'read write',
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      });
      const claims = jwtClaims(body.access_token);
      expect(claims).toMatchObject({
        iss: ISSUER,
        sub: owner.id,
        client_id: owner.id,
        aud: 'https://api.example',
        scope: 'read write',
        api_key_id: id,
      });
      expect((claims.exp as number) - (claims.iat as number)).toBe(300);
      const issued = (await auditRecords(server, 'token.issue')).filter((r) => r.detail.api_key_id === id);
      expect(issued).toHaveLength(1);
      expect(issued[0]?.detail).toMatchObject({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token_type: API_KEY_TYPE,
        jti: claims.jti,
        sub: owner.id,
      });
      expect(JSON.stringify(issued)).not.toContain(key);
    });

    it("a person's key: sub is the user's id, client_id the key's id", async () => {
      const person = await createUser(server);
      const { id, key } = await createKey(server, { owner: `user:${person.username}`, scopes: ['deploy'] });
      const res = await exchange(server, key);
      expect(res.statusCode, res.body).toBe(200);
      const claims = jwtClaims(res.json().access_token);
      expect(claims).toMatchObject({
        sub: person.id,
        client_id: id,
        api_key_id: id,
        aud: ISSUER,
        scope: 'deploy',
      });
      expect(res.json().expires_in).toBe(server.config.defaultAccessTokenTtlSeconds);
    });

    it('narrows to the requested scopes; the lifetime never outlives the key', async () => {
      const { key } = await createKey(server, {
        owner: owner.id,
        scopes: ['read', 'write'],
        ttlSeconds: 120,
      });
      const res = await exchange(server, key, { scope: 'read' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ scope: 'read', expires_in: 120 });
      server.clock.advanceSeconds(100);
      const later = await exchange(server, key);
      expect(later.json().expires_in).toBe(20);
    });

    it('a client_id naming the owner is accepted', async () => {
      const { key } = await createKey(server, { owner: owner.id });
      const res = await exchange(server, key, { client_id: owner.id });
      expect(res.statusCode, res.body).toBe(200);
    });
  });

  describe('400', () => {
    it('every unusable key gets one identical answer; the audit log holds the reason, never the key', async () => {
      const live = await createKey(server, { owner: owner.id });
      const revoked = await createKey(server, { owner: owner.id });
      await adminApiKeys.revokeApiKey(keyAdminDeps(server), revoked.id, ADMIN);
      const expired = await createKey(server, { owner: owner.id, ttlSeconds: 60 });
      const exhausted = await createKey(server, { owner: owner.id, maxUses: 1 });
      expect((await exchange(server, exhausted.key)).statusCode).toBe(200);
      server.clock.advanceSeconds(61);
      const unknown = `clv_${'A'.repeat(30)}`;
      // A well-formed key with a correct checksum that the server never issued.
      const { generateApiKey } = await import('@clavis/core');
      const neverIssued = generateApiKey();
      const badChecksum = `${live.key.slice(0, -1)}${live.key.endsWith('0') ? '1' : '0'}`;
      const cases: Array<[string, string]> = [
        ['malformed', 'not-a-key'],
        ['malformed', unknown],
        ['bad_checksum', badChecksum],
        ['unknown', neverIssued],
        ['revoked', revoked.key],
        ['expired', expired.key],
        ['exhausted', exhausted.key],
      ];
      const before = (await auditRecords(server, 'api_key.use_denied')).length;
      for (const [, presented] of cases) {
        await server.failures.flush(); // each refusal the first of its kind in its window: recorded
        const res = await exchange(server, presented);
        expect(res.statusCode, presented).toBe(400);
        expect(res.json()).toEqual(INVALID_EXCHANGE);
      }
      const denied = (await auditRecords(server, 'api_key.use_denied')).slice(before);
      expect(denied.map((r) => r.detail.reason)).toEqual(cases.map(([reason]) => reason));
      expect(denied.every((r) => r.outcome === 'failure' && r.detail.via === 'token_exchange')).toBe(true);
      expect(denied.find((r) => r.detail.reason === 'revoked')?.detail.api_key_id).toBe(revoked.id);
      const text = JSON.stringify(denied);
      for (const [, presented] of cases) expect(text).not.toContain(presented);
    });

    it('a scope beyond the key is invalid_scope and uses nothing', async () => {
      const { id, key } = await createKey(server, { owner: owner.id, scopes: ['read'], maxUses: 1 });
      const res = await exchange(server, key, { scope: 'read write' });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_scope');
      expect((await exchange(server, key)).statusCode).toBe(200);
      const row = await server.services.db
        .selectFrom('api_keys')
        .select('uses')
        .where('id', '=', id)
        .executeTakeFirst();
      expect(Number(row?.uses)).toBe(1);
    });

    it("a client_id that is not the owner's is invalid_request (TE-09) and audited", async () => {
      const other = await registerCaller(server);
      const { id, key } = await createKey(server, { owner: owner.id });
      const res = await exchange(server, key, { client_id: other.id });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_request');
      const denied = await auditRecords(server, 'api_key.use_denied');
      expect(denied.some((r) => r.detail.api_key_id === id && r.detail.reason === 'principal_mismatch')).toBe(
        true,
      );
      const person = await createUser(server);
      const personal = await createKey(server, { owner: `user:${person.username}` });
      const named = await exchange(server, personal.key, { client_id: owner.id });
      expect(named.statusCode).toBe(400);
    });

    it('a key in its last second is refused without spending a use (no token under a second long)', async () => {
      const { id, key } = await createKey(server, { owner: owner.id, ttlSeconds: 60, maxUses: 1 });
      server.clock.advance(59_500);
      const res = await exchange(server, key);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(INVALID_EXCHANGE);
      const row = await server.services.db
        .selectFrom('api_keys')
        .select('uses')
        .where('id', '=', id)
        .executeTakeFirst();
      expect(Number(row?.uses)).toBe(0);
    });

    it('an audience the owner may not have is invalid_target', async () => {
      const { key } = await createKey(server, { owner: owner.id });
      const res = await exchange(server, key, { audience: 'https://elsewhere.example' });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_target');
    });

    it("a disabled owner's keys stop at once", async () => {
      const doomed = await registerCaller(server);
      const { key } = await createKey(server, { owner: doomed.id });
      await server.services.db
        .updateTable('clients')
        .set({ disabled_at: server.clock.now })
        .where('id', '=', doomed.id)
        .execute();
      const res = await exchange(server, key);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(INVALID_EXCHANGE);
    });

    it("a key is narrowed to its owner's current ceiling", async () => {
      const shrinking = await registerCaller(server, { scopes: ['read', 'write'] });
      const { key } = await createKey(server, { owner: shrinking.id, scopes: ['read', 'write'] });
      await server.services.db
        .updateTable('clients')
        .set({ scopes: JSON.stringify(['read']) })
        .where('id', '=', shrinking.id)
        .execute();
      const res = await exchange(server, key);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().scope).toBe('read');
    });
  });

  describe('creation rules', () => {
    it('refused: scopes beyond the ceiling, keys:mint, no scope, a TTL over the maximum or none, public-client owners, unknown owners; each creates nothing', async () => {
      const count = async () =>
        Number(
          (
            await server.services.db
              .selectFrom('api_keys')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirst()
          )?.n,
        );
      const before = count();
      const publicClient = await server.createClient({
        kind: 'public',
        grants: ['device_code'],
        scopes: ['read'],
      });
      const person = await createUser(server, { scopes: ['deploy'] });
      const cases: Array<[Partial<adminApiKeys.CreateApiKeyInput> & { owner: string }, RegExp]> = [
        [{ owner: owner.id, scopes: ['read', 'delete'] }, /beyond the ceiling .*: delete/],
        [{ owner: owner.id, scopes: ['keys:mint'] }, /may not carry keys:mint/],
        [{ owner: owner.id, scopes: [] }, /at least one scope/],
        [{ owner: owner.id, scopes: ['bad"scope'] }, /malformed/],
        [{ owner: owner.id, ttlSeconds: 90 * 86_400 + 1 }, /exceeds the maximum/],
        [{ owner: owner.id, ttlSeconds: 0 }, /positive/],
        [{ owner: owner.id, maxUses: 0 }, /max uses/],
        [{ owner: owner.id, rateLimit: 1.5 }, /rate limit/],
        [{ owner: owner.id, name: '' }, /name/],
        [{ owner: publicClient.client.id }, /is public/],
        [{ owner: `user:${person.username}`, scopes: ['read'] }, /beyond the ceiling of user:/],
        [{ owner: 'svc_nobody' }, /no client/],
        [{ owner: 'user:nobody' }, /no user/],
      ];
      const n = await before;
      for (const [input, message] of cases) {
        await expect(
          adminApiKeys.createApiKey(
            keyAdminDeps(server),
            { scopes: ['read'], ttlSeconds: 3600, ...input },
            ADMIN,
          ),
          JSON.stringify(input),
        ).rejects.toThrow(message);
      }
      expect(await count()).toBe(n);
      // A person's ceiling admits what it names; with none set, the administrator decides.
      await expect(
        createKey(server, { owner: `user:${person.username}`, scopes: ['deploy'] }),
      ).resolves.toBeDefined();
      const open = await createUser(server);
      await expect(
        createKey(server, { owner: `user:${open.username}`, scopes: ['anything'] }),
      ).resolves.toBeDefined();
    });
  });

  describe('429', () => {
    it('over the per-key rate limit: 429 with Retry-After, audited; the next minute works again', async () => {
      const { id, key } = await createKey(server, { owner: owner.id, rateLimit: 2 });
      server.clock.now = Math.floor(server.clock.now / 60_000) * 60_000 + 10_000;
      expect((await exchange(server, key)).statusCode).toBe(200);
      expect((await exchange(server, key)).statusCode).toBe(200);
      const limited = await exchange(server, key);
      expect(limited.statusCode).toBe(429);
      expect(limited.json().error).toBe('too_many_requests');
      expect(limited.headers['retry-after']).toBe('50');
      const denied = await auditRecords(server, 'api_key.use_denied');
      expect(denied.some((r) => r.detail.api_key_id === id && r.detail.reason === 'rate_limited')).toBe(true);
      server.clock.advanceSeconds(60);
      expect((await exchange(server, key)).statusCode).toBe(200);
    });
  });
});
