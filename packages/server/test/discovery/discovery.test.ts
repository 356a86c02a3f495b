import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';

const WELL_KNOWN = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'];
const SECRET_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];

describe.each(dialects)('discovery (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await createTestServer(dialect);
  });
  afterAll(() => server.close());

  async function metadata(path: string): Promise<Record<string, unknown>> {
    const res = await server.app.inject({ method: 'GET', url: path });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    return res.json() as Record<string, unknown>;
  }

  it('serves identical RFC 8414 metadata at both well-known paths', async () => {
    const [a, b] = await Promise.all(WELL_KNOWN.map((p) => server.app.inject({ method: 'GET', url: p })));
    expect(a?.statusCode).toBe(200);
    expect(b?.statusCode).toBe(200);
    expect(a?.payload).toBe(b?.payload);
  });

  it('names the issuer, every endpoint, exactly the supported grant and the auth methods', async () => {
    const m = await metadata(WELL_KNOWN[0] ?? '');
    expect(m).toMatchObject({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/oauth/token`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      introspection_endpoint: `${ISSUER}/oauth/introspect`,
      revocation_endpoint: `${ISSUER}/oauth/revoke`,
      device_authorization_endpoint: `${ISSUER}/oauth/device_authorization`,
      api_key_endpoint: `${ISSUER}/oauth/api-keys`,
      api_key_verification_endpoint: `${ISSUER}/oauth/api-keys/verify`,
      api_key_leak_report_endpoint: `${ISSUER}/oauth/api-keys/leaks`,
      access_token_signing_alg_values_supported: ['EdDSA'],
    });
    expect(m.grant_types_supported).toEqual([
      'client_credentials',
      'urn:ietf:params:oauth:grant-type:device_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    ]);
    // Public clients (the CLI) authenticate with `none` at the token endpoint for the device flow.
    expect([...(m.token_endpoint_auth_methods_supported as string[])].sort()).toEqual(
      [...SECRET_METHODS, 'none'].sort(),
    );
    // Introspection refuses public clients, so `none` must not be advertised for it.
    expect([...(m.introspection_endpoint_auth_methods_supported as string[])].sort()).toEqual(
      [...SECRET_METHODS].sort(),
    );
    // Revocation accepts a public client (it answers 200 and changes nothing for a token not its own).
    expect([...(m.revocation_endpoint_auth_methods_supported as string[])].sort()).toEqual(
      [...SECRET_METHODS, 'none'].sort(),
    );
    for (const key of [
      'token_endpoint_auth_signing_alg_values_supported',
      'introspection_endpoint_auth_signing_alg_values_supported',
      'revocation_endpoint_auth_signing_alg_values_supported',
    ]) {
      const algs = m[key] as string[];
      expect(algs.length).toBeGreaterThan(0);
      expect(algs).not.toContain('none');
      expect(algs.filter((a) => a.startsWith('HS'))).toEqual([]);
    }
  });

  it('lists only endpoint URLs under the issuer that actually answer at their path', async () => {
    const m = await metadata(WELL_KNOWN[1] ?? '');
    const endpoints: Array<[string, 'GET' | 'POST', number]> = [
      ['token_endpoint', 'POST', 401],
      ['introspection_endpoint', 'POST', 401],
      ['revocation_endpoint', 'POST', 401],
      ['device_authorization_endpoint', 'POST', 401],
      // API-key endpoints: no bearer token, no client authentication, not a JSON array.
      ['api_key_endpoint', 'POST', 401],
      ['api_key_verification_endpoint', 'POST', 401],
      ['api_key_leak_report_endpoint', 'POST', 400],
      ['jwks_uri', 'GET', 200],
      // No bearer token: RFC 6750 §3's bare challenge.
      ['userinfo_endpoint', 'GET', 401],
    ];
    for (const [key, method, status] of endpoints) {
      const url = m[key];
      expect(typeof url).toBe('string');
      expect(String(url).startsWith(`${ISSUER}/`)).toBe(true);
      const path = new URL(String(url)).pathname;
      const res = await server.app.inject({
        method,
        url: path,
        ...(method === 'POST'
          ? {
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              payload: 'grant_type=client_credentials&token=x',
            }
          : {}),
      });
      expect(res.statusCode, key).not.toBe(404);
      expect(res.statusCode, key).toBe(status);
    }
    // Every *_endpoint and *_uri member is covered above: a new one must be added here.
    const listed = Object.keys(m)
      .filter((k) => k.endsWith('_endpoint') || k.endsWith('_uri'))
      .sort();
    expect(listed).toEqual(endpoints.map(([k]) => k).sort());
  });

  it('lists what an OpenID Connect relying party needs, beside everything RFC 8414 lists', async () => {
    const m = await metadata(WELL_KNOWN[1] ?? '');
    expect(m).toMatchObject({
      userinfo_endpoint: `${ISSUER}/oauth/userinfo`,
      // RS256 whatever the access tokens' alg: Discovery §3 says it MUST be included.
      id_token_signing_alg_values_supported: ['RS256'],
      subject_types_supported: ['public'],
      // No authorization endpoint: still no response type (openid-client and oauth4webapi need none).
      response_types_supported: [],
    });
    expect(m.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile']));
    expect(m.claims_supported).toEqual(
      expect.arrayContaining(['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'amr', 'preferred_username']),
    );
  });

  it('an unknown well-known path is 404 (so the check above can fail)', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/.well-known/no-such-thing' });
    expect(res.statusCode).toBe(404);
  });

  it('the JWKS at jwks_uri holds public keys only (no RS256 key before any ID token)', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    const { keys } = res.json() as { keys: Array<Record<string, unknown>> };
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
        expect(key[privateMember]).toBeUndefined();
      expect(key).toMatchObject({ use: 'sig', alg: 'EdDSA', kid: expect.any(String) });
    }
  });
});

describe.each(dialects)('discovery with another signing algorithm (%s)', (dialect) => {
  it('advertises the configured access-token algorithm, and RS256 for ID tokens at both paths', async () => {
    const server = await createTestServer(dialect, { config: { signingAlg: 'ES256' } });
    try {
      for (const url of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const res = await server.app.inject({ method: 'GET', url });
        expect(res.json().access_token_signing_alg_values_supported).toEqual(['ES256']);
        expect(res.json().id_token_signing_alg_values_supported).toEqual(['RS256']);
      }
    } finally {
      await server.close();
    }
  });

  it('with RS256 access tokens, lists RS256 once for each', async () => {
    const server = await createTestServer(dialect, { config: { signingAlg: 'RS256' } });
    try {
      const res = await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
      expect(res.json().access_token_signing_alg_values_supported).toEqual(['RS256']);
      expect(res.json().id_token_signing_alg_values_supported).toEqual(['RS256']);
    } finally {
      await server.close();
    }
  });
});
