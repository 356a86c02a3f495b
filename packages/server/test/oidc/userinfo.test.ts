/**
 * The UserInfo endpoint (OIDC Core §5.3) over RFC 6750 bearer tokens: what it answers for a person's
 * token with `openid` (and `profile`), and every refusal — no token, two tokens, a malformed or oversized
 * header, a forged, expired or revoked token, an ID token, a service's token, a token without `openid`,
 * a disabled person or client, another method — with its status and `WWW-Authenticate` challenge.
 */
import { adminUsers } from '@clavis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { basic, post, revoke } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import { obtainTokens, refresh, type UserTokens } from '../device_flow/support.js';

const USERINFO = '/oauth/userinfo';
const CHALLENGE = 'Bearer realm="clavis"';
const INVALID_TOKEN = `${CHALLENGE}, error="invalid_token"`;

describe.each(dialects)('userinfo (%s)', (dialect) => {
  let server: TestServer;
  let cli: string;
  let userId: string;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    cli = (await server.createClient({ kind: 'public', scopes: ['openid', 'profile', 'read'] })).client.id;
    userId = (await createUser(server, { username: 'grace' })).id;
  });
  afterAll(() => server.close());

  const get = (headers: Record<string, string> = {}) =>
    server.app.inject({ method: 'GET', url: USERINFO, headers });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  function expectRefusal(
    res: Awaited<ReturnType<typeof get>>,
    status: number,
    error: string,
    challenge: string,
  ): void {
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json()).toMatchObject({ error });
    expect(res.headers['www-authenticate']).toBe(challenge);
    expect(res.headers['cache-control']).toBe('no-store');
  }

  describe('200', () => {
    it('GET with openid profile: sub and preferred_username, not cacheable', async () => {
      const tokens = await obtainTokens(server, cli, userId, 'openid profile');
      const res = await get(bearer(tokens.access_token));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({ sub: userId, preferred_username: 'grace' });
    });

    it('openid alone: sub only', async () => {
      const tokens = await obtainTokens(server, cli, userId, 'openid read');
      const res = await get(bearer(tokens.access_token));
      expect(res.json()).toEqual({ sub: userId });
    });

    it('POST with the token in the header, or in the form body (RFC 6750 §2.2)', async () => {
      const tokens = await obtainTokens(server, cli, userId, 'openid profile');
      const inHeader = await post(server, USERINFO, {}, bearer(tokens.access_token));
      expect(inHeader.statusCode, inHeader.body).toBe(200);
      expect(inHeader.json()).toEqual({ sub: userId, preferred_username: 'grace' });
      const inBody = await post(server, USERINFO, { access_token: tokens.access_token });
      expect(inBody.statusCode, inBody.body).toBe(200);
      expect(inBody.json()).toEqual({ sub: userId, preferred_username: 'grace' });
    });

    it('a POST without a body and with only the header', async () => {
      const tokens = await obtainTokens(server, cli, userId, 'openid');
      const res = await server.app.inject({
        method: 'POST',
        url: USERINFO,
        headers: bearer(tokens.access_token),
      });
      expect(res.statusCode, res.body).toBe(200);
    });
  });

  describe('400 invalid_request', () => {
    it('a token both in the header and in the body', async () => {
      const tokens = await obtainTokens(server, cli, userId, 'openid');
      const res = await post(
        server,
        USERINFO,
        { access_token: tokens.access_token },
        bearer(tokens.access_token),
      );
      expectRefusal(res, 400, 'invalid_request', `${CHALLENGE}, error="invalid_request"`);
    });

    it('a Bearer header that does not parse', async () => {
      for (const value of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer "quoted"', 'Bearer tok\u00e9n']) {
        const res = await get({ authorization: value });
        expectRefusal(res, 400, 'invalid_request', `${CHALLENGE}, error="invalid_request"`);
      }
    });

    it('a body that is not a form', async () => {
      const res = await server.app.inject({
        method: 'POST',
        url: USERINFO,
        headers: { 'content-type': 'application/json' },
        payload: '{"access_token":"x"}',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_request' });
    });
  });

  describe('401 invalid_token', () => {
    it('no token at all: the bare challenge (RFC 6750 §3.1)', async () => {
      expectRefusal(await get(), 401, 'invalid_token', CHALLENGE);
      expectRefusal(await post(server, USERINFO, {}), 401, 'invalid_token', CHALLENGE);
      expectRefusal(await get({ authorization: basic('a', 'b') }), 401, 'invalid_token', CHALLENGE);
    });

    it('a token in the query string is not looked at (RFC 6750 §2.3 is not offered)', async () => {
      const tokens = await obtainTokens(server, cli, userId, 'openid');
      const res = await server.app.inject({
        method: 'GET',
        url: `${USERINFO}?access_token=${tokens.access_token}`,
      });
      expectRefusal(res, 401, 'invalid_token', CHALLENGE);
    });

    it('garbage, a forged signature, an oversized header', async () => {
      const tokens = await obtainTokens(server, cli, userId, 'openid');
      const [h, p, s] = tokens.access_token.split('.');
      const forged = `${h}.${p}.${(s ?? '').startsWith('A') ? 'B' : 'A'}${(s ?? '').slice(1)}`;
      const otherPayload = Buffer.from(
        JSON.stringify({
          ...JSON.parse(Buffer.from(p ?? '', 'base64url').toString()),
          sub: 'usr_someoneelse',
        }),
      ).toString('base64url');
      for (const token of ['not-a-jwt', 'a.b.c', forged, `${h}.${otherPayload}.${s}`, 'x'.repeat(9000)]) {
        expectRefusal(await get(bearer(token)), 401, 'invalid_token', INVALID_TOKEN);
      }
      expectRefusal(
        await post(server, USERINFO, { access_token: 'x'.repeat(9000) }),
        401,
        'invalid_token',
        INVALID_TOKEN,
      );
    });

    it('an expired token (the clock moves past exp)', async () => {
      const tokens = await obtainTokens(server, cli, userId, 'openid');
      expect((await get(bearer(tokens.access_token))).statusCode).toBe(200);
      server.clock.advanceSeconds(tokens.expires_in);
      expectRefusal(await get(bearer(tokens.access_token)), 401, 'invalid_token', INVALID_TOKEN);
    });

    it('a revoked token, and the tokens of a family revoked for refresh-token reuse', async () => {
      const tokens = await obtainTokens(server, cli, userId, 'openid');
      expect((await get(bearer(tokens.access_token))).statusCode).toBe(200);
      expect((await revoke(server, cli, tokens.access_token)).statusCode).toBe(200);
      expectRefusal(await get(bearer(tokens.access_token)), 401, 'invalid_token', INVALID_TOKEN);

      const other = await obtainTokens(server, cli, userId, 'openid');
      const rotated = (await refresh(server, cli, other.refresh_token)).json() as UserTokens;
      expect((await get(bearer(rotated.access_token))).statusCode).toBe(200);
      expect((await refresh(server, cli, other.refresh_token)).statusCode).toBe(400); // reuse
      expectRefusal(await get(bearer(rotated.access_token)), 401, 'invalid_token', INVALID_TOKEN);
    });

    it('a service token with openid: no person to describe', async () => {
      const service = await server.createClient({ kind: 'confidential', scopes: ['openid', 'read'] });
      const res = await post(
        server,
        '/oauth/token',
        { grant_type: 'client_credentials', scope: 'openid' },
        { authorization: basic(service.client.id, service.secret ?? '') },
      );
      expect(res.statusCode, res.body).toBe(200);
      const token = (res.json() as { access_token: string }).access_token;
      expectRefusal(await get(bearer(token)), 401, 'invalid_token', INVALID_TOKEN);
    });

    it('a disabled person, and a person whose token outlives a direct disable in storage', async () => {
      const person = (await createUser(server)).id;
      const tokens = await obtainTokens(server, cli, person, 'openid profile');
      expect((await get(bearer(tokens.access_token))).statusCode).toBe(200);
      // The account check itself, apart from the revocations `users disable` also makes.
      await server.services.db
        .updateTable('users')
        .set({ disabled_at: server.clock.now })
        .where('id', '=', person)
        .execute();
      expectRefusal(await get(bearer(tokens.access_token)), 401, 'invalid_token', INVALID_TOKEN);

      const another = (await createUser(server)).id;
      const theirs = await obtainTokens(server, cli, another, 'openid');
      await adminUsers.disableUser(
        {
          db: server.services.db,
          audit: server.services.audit,
          clock: server.clock.read,
          totpKey: server.services.totpKey,
        },
        another,
        { type: 'admin', id: 'test' },
      );
      expectRefusal(await get(bearer(theirs.access_token)), 401, 'invalid_token', INVALID_TOKEN);
    });

    it('a removed person, and a disabled client', async () => {
      const person = (await createUser(server)).id;
      const tokens = await obtainTokens(server, cli, person, 'openid');
      await server.services.db.deleteFrom('users').where('id', '=', person).execute();
      expectRefusal(await get(bearer(tokens.access_token)), 401, 'invalid_token', INVALID_TOKEN);

      const doomed = (await server.createClient({ kind: 'public', scopes: ['openid'] })).client.id;
      const theirs = await obtainTokens(server, doomed, userId, 'openid');
      await server.services.db
        .updateTable('clients')
        .set({ disabled_at: server.clock.now })
        .where('id', '=', doomed)
        .execute();
      expectRefusal(await get(bearer(theirs.access_token)), 401, 'invalid_token', INVALID_TOKEN);
    });
  });

  describe('403 insufficient_scope', () => {
    it('a person’s token without openid', async () => {
      const tokens = await obtainTokens(server, cli, userId, 'read profile');
      expectRefusal(
        await get(bearer(tokens.access_token)),
        403,
        'insufficient_scope',
        `${CHALLENGE}, error="insufficient_scope", scope="openid"`,
      );
    });

    it('a service token without openid', async () => {
      const service = await server.createClient({ kind: 'confidential', scopes: ['read'] });
      const res = await post(
        server,
        '/oauth/token',
        { grant_type: 'client_credentials' },
        { authorization: basic(service.client.id, service.secret ?? '') },
      );
      const token = (res.json() as { access_token: string }).access_token;
      expect((await get(bearer(token))).statusCode).toBe(403);
    });
  });

  describe('405', () => {
    it('any method but GET and POST', async () => {
      for (const method of ['PUT', 'DELETE', 'PATCH'] as const) {
        const res = await server.app.inject({ method, url: USERINFO });
        expect(res.statusCode, method).toBe(405);
        expect(res.headers.allow).toBe('GET, POST');
        expect(res.json()).toMatchObject({ error: 'invalid_request' });
      }
    });
  });
});
