/**
 * The person's name after a login: `openid` asked when the server lists it, the id_token verified
 * against the server's JWKS (signature, iss, aud = the client, exp) before its claims are believed,
 * and userinfo asked when there is no id_token and the server lists a `userinfo_endpoint`. As Clavis
 * publishes them, the access tokens are EdDSA and the ID tokens RS256, under another kid of one JWKS.
 */
import { createClient, LoginStore, type Sleep } from '@clavis/sdk';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { headless, type Scratch, scratch } from './support/env.js';
import { json, metadataFor, type StubServer, startStub } from './support/stub_server.js';

const DISCOVERY = '/.well-known/oauth-authorization-server';
const noWait: Sleep = async () => {};

describe('id_token and userinfo', () => {
  let stub: StubServer;
  let s: Scratch;
  let key: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let idKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

  beforeAll(async () => {
    stub = await startStub();
    s = await scratch();
    const pair = await generateKeyPair('EdDSA');
    key = pair.privateKey;
    const rsa = await generateKeyPair('RS256');
    idKey = rsa.privateKey;
    stub.routes.set(
      '/jwks',
      json(200, {
        keys: [
          { ...(await exportJWK(pair.publicKey)), kid: 'sig-1', alg: 'EdDSA' },
          { ...(await exportJWK(rsa.publicKey)), kid: 'id-1', alg: 'RS256' },
        ],
      }),
    );
  });
  afterAll(async () => {
    await stub?.close();
    await s?.cleanup();
  });
  afterEach(() => {
    stub.requests.length = 0;
  });

  const accessToken = (sub: string) =>
    new SignJWT({ client_id: 'cli' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'sig-1' })
      .setSubject(sub)
      .sign(key);
  const idToken = (claims: { aud?: string; iss?: string; exp?: number }) =>
    new SignJWT({ preferred_username: 'ada' })
      .setProtectedHeader({ alg: 'RS256', kid: 'id-1', typ: 'JWT' })
      .setSubject('usr_ada')
      .setIssuer(claims.iss ?? stub.url)
      .setAudience(claims.aud ?? 'cli')
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 300)
      .sign(idKey);

  function serve(metadata: Record<string, unknown>, token: Record<string, unknown>) {
    stub.routes.set(DISCOVERY, json(200, { ...metadataFor(stub.url), ...metadata }));
    stub.routes.set(
      '/oauth/device_authorization',
      json(200, {
        device_code: 'dc',
        user_code: 'BCDF-GHJK',
        verification_uri: `${stub.url}/device`,
        expires_in: 600,
        interval: 1,
      }),
    );
    stub.routes.set(
      '/oauth/token',
      json(200, { token_type: 'Bearer', expires_in: 600, refresh_token: 'clvr_1', ...token }),
    );
  }

  const client = (env = s.env) =>
    createClient({
      issuer: stub.url,
      clientId: 'cli',
      scopes: ['invoices:read'],
      env,
      context: headless,
      keychain: null,
      warn: () => {},
      sleep: noWait,
    });

  it('asks openid when listed, and names the person from the verified id_token', async () => {
    serve(
      { scopes_supported: ['openid', 'invoices:read'] },
      { access_token: await accessToken('usr_ada'), id_token: await idToken({}) },
    );
    const token = await client().login({ onCode: () => {} });
    expect(stub.requests.find((r) => r.path === '/oauth/device_authorization')?.body.get('scope')).toBe(
      'openid invoices:read',
    );
    expect(token.principal).toEqual({ sub: 'usr_ada', username: 'ada', clientId: 'cli' });
    const stored = await new LoginStore({ env: s.env, keychain: null }).load(stub.url, 'cli');
    expect(stored?.login.idTokenClaims).toMatchObject({ preferred_username: 'ada', aud: 'cli' });
  });

  it.each([
    ['another audience', { aud: 'someone-else' }],
    ['another issuer', { iss: 'https://evil.example.com' }],
    ['an expired token', { exp: Math.floor(Date.now() / 1000) - 3600 }],
  ])('an id_token with %s is refused and nothing is stored', async (_name, claims) => {
    const other = await scratch();
    try {
      serve(
        { scopes_supported: ['openid'] },
        { access_token: await accessToken('usr_ada'), id_token: await idToken(claims) },
      );
      await expect(client(other.env).login({ onCode: () => {} })).rejects.toMatchObject({
        code: 'invalid_response',
      });
      expect(await new LoginStore({ env: other.env, keychain: null }).load(stub.url, 'cli')).toBeUndefined();
    } finally {
      await other.cleanup();
    }
  });

  it('without an id_token, asks userinfo when listed; without either, the sub alone', async () => {
    stub.routes.set('/userinfo', (req, res) => {
      const ok = req.headers.authorization?.startsWith('Bearer ey');
      json(ok ? 200 : 401, ok ? { sub: 'usr_lin', preferred_username: 'lin' } : {})(
        req,
        res,
        new URLSearchParams(),
      );
    });
    serve({ userinfo_endpoint: `${stub.url}/userinfo` }, { access_token: await accessToken('usr_lin') });
    const token = await client().login({ onCode: () => {} });
    expect(stub.requests.find((r) => r.path === '/oauth/device_authorization')?.body.get('scope')).toBe(
      'invoices:read',
    );
    expect(token.principal).toEqual({ sub: 'usr_lin', username: 'lin', clientId: 'cli' });

    serve({}, { access_token: await accessToken('usr_kim') });
    expect((await client().login({ onCode: () => {} })).principal).toEqual({
      sub: 'usr_kim',
      clientId: 'cli',
    });
  });
});
