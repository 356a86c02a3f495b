/**
 * The refresh_token grant for people's tokens: binding to the client (RT-01), rotation and reuse
 * detection (RT-02), scope that may narrow but never widen, idle and absolute lifetimes, per client
 * (RT-03).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { jwtClaims } from '../../../../test/support/jwt.js';
import { type Caller, introspect } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import { countRows, obtainTokens, refresh, type UserTokens } from './support.js';

const INVALID_RT = { error: 'invalid_grant', error_description: 'refresh token is invalid' };
const EXPIRED_RT = { error: 'invalid_grant', error_description: 'refresh token has expired' };

describe.each(dialects)('refresh_token grant (%s)', (dialect) => {
  let server: TestServer;
  let clientA: Caller;
  let clientB: Caller;
  let publicClient: string;
  let userId: string;

  async function confidentialDeviceClient(
    extra: { refreshIdleTtlSeconds?: number; refreshAbsoluteTtlSeconds?: number } = {},
  ) {
    const c = await server.createClient({
      kind: 'confidential',
      grants: ['device_code', 'refresh_token'],
      scopes: ['openid', 'read'],
      ...extra,
    });
    return { id: c.client.id, secret: c.secret ?? '' };
  }

  beforeAll(async () => {
    server = await createTestServer(dialect);
    clientA = await confidentialDeviceClient();
    clientB = await confidentialDeviceClient();
    publicClient = (await server.createClient({ kind: 'public', scopes: ['openid', 'read'] })).client.id;
    userId = (await createUser(server)).id;
  });
  afterAll(() => server.close());

  async function expectRefreshes(caller: Caller | string, rt: string, scope?: string): Promise<UserTokens> {
    const res = await refresh(server, caller, rt, scope);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json() as UserTokens;
    expect(body.refresh_token).not.toBe(rt);
    return body;
  }

  async function expectRefused(caller: Caller | string, rt: string, body: object, scope?: string) {
    const res = await refresh(server, caller, rt, scope);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual(body);
  }

  describe('200', () => {
    it('a refresh rotates the token and carries the person, the client and the scope', async () => {
      const tokens = await obtainTokens(server, publicClient, userId, 'openid read');
      const next = await expectRefreshes(publicClient, tokens.refresh_token);
      expect(next).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 600,
        refresh_token: expect.stringMatching(/^clvr_[A-Za-z0-9_-]{43}$/),
        scope: 'openid read',
        // openid: a fresh ID token too (test/oidc covers its claims).
        id_token: expect.any(String),
      });
      expect(jwtClaims(next.access_token)).toMatchObject({
        sub: userId,
        client_id: publicClient,
        scope: 'openid read',
      });
      const records = (await auditRecords(server, 'token.refresh')).filter(
        (r) => r.client_id === publicClient,
      );
      expect(records.at(-1)).toMatchObject({ actor_type: 'user', actor_id: userId });
    });
  });

  describe('RT-01', () => {
    it("RT-01: client B presents client A's refresh token → invalid_grant; A's token still works", async () => {
      const tokens = await obtainTokens(server, clientA, userId, 'read');
      await expectRefused(clientB, tokens.refresh_token, INVALID_RT);
      await expectRefused(publicClient, tokens.refresh_token, INVALID_RT);
      expect(
        (await auditRecords(server, 'token.refresh_reuse')).filter((r) => r.client_id === clientB.id),
      ).toEqual([]);
      const next = await expectRefreshes(clientA, tokens.refresh_token);
      expect(jwtClaims(next.access_token)).toMatchObject({ sub: userId, client_id: clientA.id });
      expect((await introspect(server, clientA, tokens.access_token)).json().active).toBe(true);
    });
  });

  describe('RT-02', () => {
    it('RT-02: reusing a rotated-out token → invalid_grant and the whole family with its access tokens is revoked', async () => {
      const t0 = await obtainTokens(server, clientA, userId, 'read');
      const t1 = await expectRefreshes(clientA, t0.refresh_token);
      const t2 = await expectRefreshes(clientA, t1.refresh_token);
      for (const t of [t0, t1, t2])
        expect((await introspect(server, clientA, t.access_token)).json().active).toBe(true);

      await expectRefused(clientA, t0.refresh_token, INVALID_RT);

      // The current token of the chain is dead too, and every access token of the family.
      await expectRefused(clientA, t2.refresh_token, INVALID_RT);
      for (const t of [t0, t1, t2]) {
        expect((await introspect(server, clientA, t.access_token)).json()).toEqual({ active: false });
        expect((await introspect(server, clientA, t.refresh_token)).json()).toEqual({ active: false });
      }
      const familyId = (
        await server.services.db
          .selectFrom('family_access_tokens')
          .select('family_id')
          .where('jti', '=', String(jwtClaims(t0.access_token).jti))
          .executeTakeFirstOrThrow()
      ).family_id;
      const records = (await auditRecords(server, 'token.refresh_reuse')).filter(
        (r) => r.detail.family === familyId,
      );
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        outcome: 'failure',
        client_id: clientA.id,
        detail: { family: familyId, sub: userId, family_revoked: true, likely_theft: true },
      });
      const family = await server.services.db
        .selectFrom('token_families')
        .selectAll()
        .where('id', '=', familyId)
        .executeTakeFirstOrThrow();
      expect(family.revoked_reason).toBe('refresh_token_reused');
    });

    it("RT-02: the thief refreshing first makes the victim's next use the reuse — the family dies either way", async () => {
      const t0 = await obtainTokens(server, publicClient, userId, 'read');
      const stolen = await expectRefreshes(publicClient, t0.refresh_token);
      await expectRefused(publicClient, t0.refresh_token, INVALID_RT);
      await expectRefused(publicClient, stolen.refresh_token, INVALID_RT);
    });
  });

  describe('RT-03', () => {
    it('RT-03: asking a wider scope → invalid_scope, and the token still works with its original scope', async () => {
      const tokens = await obtainTokens(server, clientA, userId, 'read');
      await expectRefused(
        clientA,
        tokens.refresh_token,
        {
          error: 'invalid_scope',
          error_description: 'a refresh cannot widen the scope',
        },
        'read openid',
      );
      await expectRefused(
        clientA,
        tokens.refresh_token,
        {
          error: 'invalid_scope',
          error_description: 'scope is malformed',
        },
        'read\nopenid',
      );
      const next = await expectRefreshes(clientA, tokens.refresh_token);
      expect(next.scope).toBe('read');
      expect(jwtClaims(next.access_token).scope).toBe('read');
    });

    it('RT-03: a narrower scope works; the successor keeps the original scope (RFC 6749 §6)', async () => {
      const tokens = await obtainTokens(server, clientA, userId, 'openid read');
      const narrow = await expectRefreshes(clientA, tokens.refresh_token, 'read');
      expect(narrow.scope).toBe('read');
      expect(jwtClaims(narrow.access_token).scope).toBe('read');
      const full = await expectRefreshes(clientA, narrow.refresh_token, 'openid read');
      expect(full.scope).toBe('openid read');
    });

    it('RT-03: a token past its idle expiry (server default 8 h) → invalid_grant', async () => {
      const tokens = await obtainTokens(server, clientA, userId, 'read');
      server.clock.advanceSeconds(8 * 3600 - 1);
      const next = await expectRefreshes(clientA, tokens.refresh_token);
      server.clock.advanceSeconds(8 * 3600);
      await expectRefused(clientA, next.refresh_token, EXPIRED_RT);
      expect((await introspect(server, clientA, next.refresh_token)).json()).toEqual({ active: false });
    });

    it("RT-03: past the family's absolute expiry (server default 24 h) → invalid_grant, however fresh the token", async () => {
      let tokens = await obtainTokens(server, clientA, userId, 'read');
      for (let i = 0; i < 3; i++) {
        server.clock.advanceSeconds(7 * 3600);
        tokens = await expectRefreshes(clientA, tokens.refresh_token);
      }
      server.clock.advanceSeconds(3 * 3600 - 1);
      tokens = await expectRefreshes(clientA, tokens.refresh_token);
      server.clock.advanceSeconds(1);
      await expectRefused(clientA, tokens.refresh_token, EXPIRED_RT);
    });

    it('RT-03: per-client lifetimes (refresh_idle_ttl, refresh_absolute_ttl) bound the tokens', async () => {
      const short = await confidentialDeviceClient({
        refreshIdleTtlSeconds: 600,
        refreshAbsoluteTtlSeconds: 1800,
      });
      let tokens = await obtainTokens(server, short, userId, 'read');
      const introspected = (await introspect(server, short, tokens.refresh_token)).json();
      expect(introspected).toMatchObject({ active: true, exp: Math.floor(server.clock.now / 1000) + 600 });
      server.clock.advanceSeconds(599);
      tokens = await expectRefreshes(short, tokens.refresh_token);
      server.clock.advanceSeconds(600);
      await expectRefused(short, tokens.refresh_token, EXPIRED_RT);

      let chain = await obtainTokens(server, short, userId, 'read');
      for (let i = 0; i < 3; i++) {
        server.clock.advanceSeconds(500);
        chain = await expectRefreshes(short, chain.refresh_token);
      }
      // 1500 s in: the new token's idle end is capped at the family's end, 1800 s.
      expect((await introspect(server, short, chain.refresh_token)).json().exp).toBe(
        Math.floor(server.clock.now / 1000) + 300,
      );
      server.clock.advanceSeconds(300);
      await expectRefused(short, chain.refresh_token, EXPIRED_RT);
    });

    it('RT-03: a per-client idle lifetime set directly in clients.refresh_idle_ttl is honoured', async () => {
      const c = await confidentialDeviceClient();
      await server.services.db
        .updateTable('clients')
        .set({ refresh_idle_ttl: 120 })
        .where('id', '=', c.id)
        .execute();
      // A second instance, so no client cache hides the change.
      const second = await createTestServer(dialect, { database: server.database, clock: server.clock });
      try {
        const tokens = await obtainTokens(second, c, userId, 'read');
        second.clock.advanceSeconds(120);
        const res = await refresh(second, c, tokens.refresh_token);
        expect(res.statusCode).toBe(400);
        expect(res.json()).toEqual(EXPIRED_RT);
      } finally {
        await second.close();
      }
    });
  });

  describe('other refusals', () => {
    it('the person disabled after approval → invalid_grant, the token is not spent', async () => {
      const person = (await createUser(server)).id;
      const tokens = await obtainTokens(server, clientA, person, 'read');
      await server.services.db
        .updateTable('users')
        .set({ disabled_at: server.clock.now })
        .where('id', '=', person)
        .execute();
      await expectRefused(clientA, tokens.refresh_token, {
        error: 'invalid_grant',
        error_description: 'the account cannot sign in',
      });
      await server.services.db
        .updateTable('users')
        .set({ disabled_at: null })
        .where('id', '=', person)
        .execute();
      await expectRefreshes(clientA, tokens.refresh_token);
    });

    it('garbage, prefixed garbage and a 10 kB token → invalid_grant with one body', async () => {
      for (const rt of ['garbage', `clvr_${'A'.repeat(43)}`, `clvr_${'A'.repeat(10 * 1024)}`]) {
        await expectRefused(clientA, rt, INVALID_RT);
      }
    });

    it('a missing refresh_token → 400 invalid_request', async () => {
      const res = await refresh(server, publicClient, '');
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_request',
        error_description: "missing parameter 'refresh_token'",
      });
    });

    it('a refresh does not create a new family', async () => {
      const c = await confidentialDeviceClient();
      const tokens = await obtainTokens(server, c, userId, 'read');
      await expectRefreshes(c, tokens.refresh_token);
      expect(await countRows(server, 'token_families', { column: 'client_id', value: c.id })).toBe(1);
    });
  });
});
