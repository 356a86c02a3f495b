/**
 * OpenID Connect ID tokens from the device flow and refresh (OIDC Core §2, §3.1.3.6–7, §12.2): present
 * exactly when `openid` is granted, signed with RS256 (OIDC's default) whatever the access tokens' alg and
 * typed `JWT`, for the client,
 * carrying when and how the person signed in; a refresh repeats `sub` and `auth_time`. An ID token is
 * never accepted where an access token is.
 */
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { jwtClaims } from '../../../../test/support/jwt.js';
import { type Caller, introspect } from '../../../../test/support/oauth.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import {
  approve,
  decideInStorage,
  obtainTokens,
  poll,
  refresh,
  requestDeviceCode,
  storedUserCode,
  type UserTokens,
} from '../device_flow/support.js';

type WithIdToken = UserTokens & { id_token?: string };

describe.each(dialects)('ID tokens (%s)', (dialect) => {
  let server: TestServer;
  let cli: string;
  let confidential: Caller;
  let userId: string;
  const username = 'ada';

  beforeAll(async () => {
    server = await createTestServer(dialect);
    cli = (await server.createClient({ kind: 'public', scopes: ['openid', 'profile', 'read'] })).client.id;
    const c = await server.createClient({
      kind: 'confidential',
      grants: ['device_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'read'],
    });
    confidential = { id: c.client.id, secret: c.secret ?? '' };
    userId = (await createUser(server, { username })).id;
  });
  afterAll(() => server.close());

  async function verifyIdToken(token: string, clientId: string) {
    const jwks = (await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    return jwtVerify(token, createLocalJWKSet(jwks as JSONWebKeySet), {
      issuer: ISSUER,
      audience: clientId,
      typ: 'JWT',
      currentDate: new Date(server.clock.now),
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    });
  }

  /** A device request approved by the person after signing in at `signedInAt`, redeemed once. */
  async function deviceTokens(
    caller: Caller | string,
    scope: string,
    authentication = { time: server.clock.now, methods: ['pwd'] },
  ): Promise<WithIdToken> {
    const auth = await requestDeviceCode(server, caller, scope);
    expect(
      await decideInStorage(server.services.db, {
        userCode: auth.user_code,
        subjectKey: server.services.stableKeys.auditSubjects,
        userId,
        approve: true,
        now: server.clock.now,
        authentication,
      }),
    ).toBe(true);
    const res = await poll(server, caller, auth.device_code);
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as WithIdToken;
  }

  it('openid: an ID token for the client, signed with RS256 (not the EdDSA access key), typed JWT', async () => {
    const signedInAt = server.clock.now - 42_000;
    const tokens = await deviceTokens(cli, 'openid read', { time: signedInAt, methods: ['pwd'] });
    expect(tokens.id_token).toEqual(expect.any(String));
    const { payload, protectedHeader } = await verifyIdToken(tokens.id_token ?? '', cli);
    const access = jwtClaims(tokens.access_token);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: expect.any(String) });
    const accessHeader = JSON.parse(
      Buffer.from(tokens.access_token.split('.')[0] ?? '', 'base64url').toString(),
    );
    expect(accessHeader.alg).toBe('EdDSA');
    expect(protectedHeader.kid).not.toBe(accessHeader.kid);
    expect(payload).toEqual({
      iss: ISSUER,
      sub: userId,
      aud: cli,
      iat: Math.floor(server.clock.now / 1000),
      exp: access.exp,
      auth_time: Math.floor(signedInAt / 1000),
      amr: ['pwd'],
    });
  });

  it('profile adds preferred_username; a second factor adds otp and mfa to amr', async () => {
    const tokens = await deviceTokens(confidential, 'openid profile', {
      time: server.clock.now,
      methods: ['pwd', 'otp', 'mfa'],
    });
    const { payload } = await verifyIdToken(tokens.id_token ?? '', confidential.id);
    expect(payload).toMatchObject({ sub: userId, preferred_username: username, amr: ['pwd', 'otp', 'mfa'] });
    expect(payload.email).toBeUndefined();
  });

  it('without openid there is no ID token, from the device grant or from refresh', async () => {
    const tokens = await deviceTokens(cli, 'read profile');
    expect(tokens.id_token).toBeUndefined();
    expect(Object.keys(tokens).sort()).toEqual([
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
    const res = await refresh(server, cli, tokens.refresh_token);
    expect(res.statusCode, res.body).toBe(200);
    expect((res.json() as WithIdToken).id_token).toBeUndefined();
  });

  it('a refresh returns a fresh ID token with the same sub, auth_time and amr', async () => {
    const signedInAt = server.clock.now;
    const first = await deviceTokens(cli, 'openid profile read', {
      time: signedInAt,
      methods: ['pwd', 'otp', 'mfa'],
    });
    server.clock.advanceSeconds(300);
    const res = await refresh(server, cli, first.refresh_token);
    expect(res.statusCode, res.body).toBe(200);
    const second = res.json() as WithIdToken;
    expect(second.id_token).toEqual(expect.any(String));
    expect(second.id_token).not.toBe(first.id_token);
    const { payload } = await verifyIdToken(second.id_token ?? '', cli);
    expect(payload).toMatchObject({
      sub: userId,
      aud: cli,
      auth_time: Math.floor(signedInAt / 1000),
      amr: ['pwd', 'otp', 'mfa'],
      preferred_username: username,
      iat: Math.floor(server.clock.now / 1000),
    });
    // A refresh that narrows the scope away from openid gets no ID token.
    const narrowed = await refresh(server, cli, second.refresh_token, 'read');
    expect(narrowed.statusCode, narrowed.body).toBe(200);
    expect((narrowed.json() as WithIdToken).id_token).toBeUndefined();
  });

  it('an approval that recorded no sign-in leaves auth_time and amr out rather than guessing', async () => {
    const auth = await requestDeviceCode(server, cli, 'openid');
    expect(await approve(server, auth.user_code, userId)).toBe(true);
    await server.services.db
      .updateTable('device_codes')
      .set({ auth_time: null, amr: null })
      .where('user_code', '=', storedUserCode(server.services.stableKeys.auditSubjects, auth.user_code))
      .execute();
    const res = await poll(server, cli, auth.device_code);
    const { payload } = await verifyIdToken((res.json() as WithIdToken).id_token ?? '', cli);
    expect(payload.auth_time).toBeUndefined();
    expect(payload.amr).toBeUndefined();
  });

  it('lives no longer than the access token, and never more than an hour', async () => {
    const long = await server.createClient({ kind: 'public', scopes: ['openid'], tokenTtlSeconds: 3600 });
    const tokens = await deviceTokens(long.client.id, 'openid');
    const claims = jwtClaims(tokens.id_token ?? '');
    expect(Number(claims.exp) - Number(claims.iat)).toBe(3600);
    expect(claims.exp).toBe(jwtClaims(tokens.access_token).exp);
  });

  it('an ID token is not an access token: introspection and userinfo refuse it', async () => {
    const tokens = await obtainTokens(server, confidential, userId, 'openid profile');
    const idToken = (tokens as WithIdToken).id_token ?? '';
    const res = await introspect(server, confidential, idToken);
    expect(res.json()).toEqual({ active: false });
    const info = await server.app.inject({
      method: 'GET',
      url: '/oauth/userinfo',
      headers: { authorization: `Bearer ${idToken}` },
    });
    expect(info.statusCode).toBe(401);
    expect(info.json()).toMatchObject({ error: 'invalid_token' });
  });
});

describe.each(dialects)("ID tokens whatever the access tokens' alg (%s)", (dialect) => {
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
    it(`${alg} access tokens: the ID token is RS256, verifiable with the published JWKS`, async () => {
      const server = await createTestServer(dialect, { config: { signingAlg: alg } });
      try {
        const cli = (await server.createClient({ kind: 'public', scopes: ['openid', 'read'] })).client.id;
        const userId = (await createUser(server, { username: 'grace' })).id;
        const jwksNow = async () =>
          (await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
        // No RSA key until an ID token needs one (unless RS256 signs the access tokens too).
        expect((await jwksNow()).keys.map((k) => k.alg)).toEqual([alg, alg]);

        // Without openid, still none.
        const plain = await requestDeviceCode(server, cli, 'read');
        expect(await approve(server, plain.user_code, userId)).toBe(true);
        expect((await poll(server, cli, plain.device_code)).statusCode).toBe(200);
        expect((await jwksNow()).keys.map((k) => k.alg)).toEqual([alg, alg]);

        const auth = await requestDeviceCode(server, cli, 'openid read');
        expect(await approve(server, auth.user_code, userId)).toBe(true);
        const res = await poll(server, cli, auth.device_code);
        expect(res.statusCode, res.body).toBe(200);
        const tokens = res.json() as WithIdToken;
        const published = await jwksNow();
        const { protectedHeader, payload } = await jwtVerify(
          tokens.id_token ?? '',
          createLocalJWKSet(published),
          { issuer: ISSUER, audience: cli, typ: 'JWT', currentDate: new Date(server.clock.now) },
        );
        expect(protectedHeader.alg).toBe('RS256');
        expect(payload.sub).toBe(userId);
        const access = await jwtVerify(tokens.access_token, createLocalJWKSet(published), {
          issuer: ISSUER,
          typ: 'at+jwt',
          currentDate: new Date(server.clock.now),
        });
        expect(access.protectedHeader.alg).toBe(alg);
        if (alg === 'RS256') {
          expect(protectedHeader.kid).toBe(access.protectedHeader.kid);
          expect(published.keys.map((k) => k.alg)).toEqual(['RS256', 'RS256']);
        } else {
          expect(protectedHeader.kid).not.toBe(access.protectedHeader.kid);
          // The current and next RS256 keys, beside the access tokens' current and next.
          expect(published.keys.map((k) => k.alg).sort()).toEqual([alg, alg, 'RS256', 'RS256'].sort());
        }
      } finally {
        await server.close();
      }
    });
  }
});
