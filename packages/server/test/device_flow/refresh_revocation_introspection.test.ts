/**
 * Revocation (RFC 7009) and introspection (RFC 7662) of refresh tokens: revoking one ends its family
 * and the family's access tokens (RI-03); only the client holding a refresh token learns anything
 * about it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { jwtClaims } from '../../../../test/support/jwt.js';
import { type Caller, introspect, revoke } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import { obtainTokens, refresh, type UserTokens } from './support.js';

describe.each(dialects)('refresh tokens at /oauth/revoke and /oauth/introspect (%s)', (dialect) => {
  let server: TestServer;
  let clientA: Caller;
  let clientB: Caller;
  let publicClient: string;
  let userId: string;

  async function deviceClient(): Promise<Caller> {
    const c = await server.createClient({
      kind: 'confidential',
      grants: ['device_code', 'refresh_token'],
      scopes: ['openid', 'read'],
    });
    return { id: c.client.id, secret: c.secret ?? '' };
  }

  beforeAll(async () => {
    server = await createTestServer(dialect);
    clientA = await deviceClient();
    clientB = await deviceClient();
    publicClient = (await server.createClient({ kind: 'public', scopes: ['read'] })).client.id;
    userId = (await createUser(server)).id;
  });
  afterAll(() => server.close());

  async function expectAllInactive(caller: Caller, tokens: string[]) {
    for (const token of tokens)
      expect((await introspect(server, caller, token)).json()).toEqual({ active: false });
  }

  describe('revocation', () => {
    for (const hint of [undefined, 'refresh_token', 'access_token', 'nonsense']) {
      it(`RI-03: revoking a refresh token (token_type_hint ${hint ?? 'absent'}) → 200; it and the family's access tokens are inactive`, async () => {
        const t0 = await obtainTokens(server, clientA, userId, 'read');
        const t1 = (await refresh(server, clientA, t0.refresh_token)).json() as UserTokens;
        expect((await introspect(server, clientA, t1.refresh_token)).json().active).toBe(true);

        const res = await revoke(
          server,
          clientA,
          t1.refresh_token,
          hint === undefined ? {} : { token_type_hint: hint },
        );
        expect(res.statusCode).toBe(200);
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.body).toBe('');

        await expectAllInactive(clientA, [t0.access_token, t1.access_token, t1.refresh_token]);
        const again = await refresh(server, clientA, t1.refresh_token);
        expect(again.statusCode).toBe(400);
        expect(again.json().error).toBe('invalid_grant');
        const record = (await auditRecords(server, 'token.revoke')).at(-1);
        expect(record).toMatchObject({
          client_id: clientA.id,
          detail: { token_type: 'refresh_token', sub: userId, already_revoked: false },
        });
      });
    }

    it('RI-03: a public client revokes its own refresh token → 200 and the family is dead', async () => {
      const tokens = await obtainTokens(server, publicClient, userId, 'read');
      expect((await revoke(server, publicClient, tokens.refresh_token)).statusCode).toBe(200);
      const res = await refresh(server, publicClient, tokens.refresh_token);
      expect(res.json()).toEqual({ error: 'invalid_grant', error_description: 'refresh token is invalid' });
    });

    it('RI-03: revoking an already revoked refresh token → 200 again', async () => {
      const tokens = await obtainTokens(server, clientA, userId, 'read');
      expect((await revoke(server, clientA, tokens.refresh_token)).statusCode).toBe(200);
      expect((await revoke(server, clientA, tokens.refresh_token)).statusCode).toBe(200);
      expect((await auditRecords(server, 'token.revoke')).at(-1)?.detail).toMatchObject({
        already_revoked: true,
      });
    });

    it("RI-02: a confidential client revoking another client's refresh token → 400 invalid_request; nothing revoked", async () => {
      const tokens = await obtainTokens(server, clientA, userId, 'read');
      const res = await revoke(server, clientB, tokens.refresh_token);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_request',
        error_description: 'the token was not issued to this client',
      });
      expect((await introspect(server, clientA, tokens.access_token)).json().active).toBe(true);
      expect((await introspect(server, clientA, tokens.refresh_token)).json().active).toBe(true);
    });

    it("a public client revoking another client's refresh token → 200, and nothing is revoked", async () => {
      const tokens = await obtainTokens(server, clientA, userId, 'read');
      const res = await revoke(server, publicClient, tokens.refresh_token);
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('');
      expect((await introspect(server, clientA, tokens.access_token)).json().active).toBe(true);
      expect((await introspect(server, clientA, tokens.refresh_token)).json().active).toBe(true);
      expect((await refresh(server, clientA, tokens.refresh_token)).statusCode).toBe(200);
    });

    it('an unknown refresh token, or a 10 kB one → 200, empty body', async () => {
      for (const token of [`clvr_${'B'.repeat(43)}`, `clvr_${'B'.repeat(10 * 1024)}`]) {
        const res = await revoke(server, clientA, token);
        expect(res.statusCode).toBe(200);
        expect(res.body).toBe('');
      }
    });
  });

  describe('introspection', () => {
    it("a refresh token introspected by its client → active with token_type 'refresh_token'", async () => {
      const tokens = await obtainTokens(server, clientA, userId, 'openid read');
      const iat = Math.floor(server.clock.now / 1000);
      const res = await introspect(server, clientA, tokens.refresh_token, {
        token_type_hint: 'refresh_token',
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({
        active: true,
        token_type: 'refresh_token',
        iss: 'https://as.clavis.test',
        sub: userId,
        client_id: clientA.id,
        scope: 'openid read',
        exp: iat + 8 * 3600,
        iat,
      });
      // A wrong hint changes nothing.
      expect(
        (await introspect(server, clientA, tokens.refresh_token, { token_type_hint: 'access_token' })).json()
          .active,
      ).toBe(true);
      // The access token: its sub is the person.
      expect((await introspect(server, clientA, tokens.access_token)).json()).toMatchObject({
        active: true,
        sub: userId,
        client_id: clientA.id,
        jti: jwtClaims(tokens.access_token).jti,
      });
    });

    it('a refresh token introspected by another client → active:false only', async () => {
      const tokens = await obtainTokens(server, clientA, userId, 'read');
      expect((await introspect(server, clientB, tokens.refresh_token)).json()).toEqual({ active: false });
      expect((await introspect(server, clientA, tokens.refresh_token)).json().active).toBe(true);
    });

    it('a rotated-out refresh token → active:false', async () => {
      const tokens = await obtainTokens(server, clientA, userId, 'read');
      expect((await refresh(server, clientA, tokens.refresh_token)).statusCode).toBe(200);
      expect((await introspect(server, clientA, tokens.refresh_token)).json()).toEqual({ active: false });
    });

    it('the refresh token of a person locked or disabled since → active:false', async () => {
      for (const change of [{ locked_at: server.clock.now }, { disabled_at: server.clock.now }]) {
        const person = (await createUser(server)).id;
        const tokens = await obtainTokens(server, clientA, person, 'read');
        expect((await introspect(server, clientA, tokens.refresh_token)).json().active).toBe(true);
        await server.services.db.updateTable('users').set(change).where('id', '=', person).execute();
        expect((await introspect(server, clientA, tokens.refresh_token)).json()).toEqual({ active: false });
      }
    });

    it('a public client cannot introspect, not even its own refresh token → 401 invalid_client', async () => {
      const tokens = await obtainTokens(server, publicClient, userId, 'read');
      const res = await introspect(server, { id: publicClient }, tokens.refresh_token);
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('invalid_client');
    });
  });
});
