/**
 * Interop with openid-client (a client we did not write): discovery, client_credentials with each of
 * the three client-authentication methods, introspection, revocation — over real HTTP to a listening
 * server. Every access token is verified with jose against the JWKS the server publishes at `jwks_uri`.
 */
import { createRemoteJWKSet, exportJWK, generateKeyPair, type JWTPayload, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';

type AuthCase = {
  name: string;
  /** Registers the client and returns what openid-client needs to authenticate as it. */
  register(server: RealServer): Promise<{ clientId: string; auth: client.ClientAuth }>;
};

async function keyClient(server: RealServer, alg: 'Ed25519' | 'ES256') {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid: `${alg.toLowerCase()}-1` };
  const { client: registered } = await server.createClient({
    authMethod: 'private_key_jwt',
    jwks: { keys: [jwk] },
  });
  return { clientId: registered.id, auth: client.PrivateKeyJwt({ key: privateKey, kid: jwk.kid }) };
}

const secretBasic: AuthCase = {
  name: 'client_secret_basic',
  async register(server) {
    const { client: c, secret } = await server.createClient({ authMethod: 'client_secret_basic' });
    return { clientId: c.id, auth: client.ClientSecretBasic(secret) };
  },
};

const secretPost: AuthCase = {
  name: 'client_secret_post',
  async register(server) {
    const { client: c, secret } = await server.createClient({ authMethod: 'client_secret_post' });
    return { clientId: c.id, auth: client.ClientSecretPost(secret) };
  },
};

const authCases: AuthCase[] = [
  secretBasic,
  secretPost,
  { name: 'private_key_jwt (Ed25519)', register: (server) => keyClient(server, 'Ed25519') },
  { name: 'private_key_jwt (ES256)', register: (server) => keyClient(server, 'ES256') },
];

function discover(server: RealServer, clientId: string, auth: client.ClientAuth) {
  return client.discovery(new URL(server.issuer), clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
}

/** Verifies an access token the way a resource server would: jose, the published JWKS, RFC 9068 `typ`. */
async function verifyWithPublishedJwks(config: client.Configuration, token: string) {
  const metadata = config.serverMetadata();
  if (!metadata.jwks_uri) throw new Error('discovery did not list a jwks_uri');
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
  return jwtVerify<JWTPayload & { client_id: string; scope?: string }>(token, jwks, {
    issuer: metadata.issuer,
    typ: 'at+jwt',
    audience: metadata.issuer,
    requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
  });
}

describe.each(dialects)('openid-client against a listening server (%s)', (dialect) => {
  let server: RealServer;

  beforeAll(async () => {
    server = await startRealServer(dialect);
  });
  afterAll(() => server.close());

  it('discovers the server metadata at the issuer', async () => {
    const { clientId, auth } = await secretBasic.register(server);
    const config = await discover(server, clientId, auth);
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(server.issuer);
    expect(metadata.token_endpoint).toBe(`${server.issuer}/oauth/token`);
    expect(metadata.jwks_uri).toBe(`${server.issuer}/.well-known/jwks.json`);
    expect(metadata.introspection_endpoint).toBe(`${server.issuer}/oauth/introspect`);
    expect(metadata.revocation_endpoint).toBe(`${server.issuer}/oauth/revoke`);
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'private_key_jwt']),
    );
  });

  describe.each(authCases)('$name', (authCase) => {
    let clientId: string;
    let config: client.Configuration;

    beforeAll(async () => {
      const registered = await authCase.register(server);
      clientId = registered.clientId;
      config = await discover(server, clientId, registered.auth);
    });

    it('gets a token, introspects it, revokes it, and then it introspects as inactive', async () => {
      const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
      expect(tokens.token_type).toBe('bearer');
      expect(tokens.expires_in).toBe(600);
      expect(tokens.scope).toBe('read');
      expect(tokens.refresh_token).toBeUndefined();

      const { payload, protectedHeader } = await verifyWithPublishedJwks(config, tokens.access_token);
      expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: expect.any(String) });
      expect(payload).toMatchObject({
        iss: server.issuer,
        sub: clientId,
        aud: server.issuer,
        client_id: clientId,
        scope: 'read',
      });
      expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(600);

      const active = await client.tokenIntrospection(config, tokens.access_token);
      expect({ ...active }).toEqual({
        active: true,
        token_type: 'Bearer',
        iss: server.issuer,
        sub: clientId,
        aud: server.issuer,
        client_id: clientId,
        scope: 'read',
        exp: payload.exp,
        iat: payload.iat,
        jti: payload.jti,
      });

      await expect(client.tokenRevocation(config, tokens.access_token)).resolves.toBeUndefined();

      const inactive = await client.tokenIntrospection(config, tokens.access_token);
      expect({ ...inactive }).toEqual({ active: false });
    });

    it('gets the whole scope ceiling when it asks for no scope', async () => {
      const tokens = await client.clientCredentialsGrant(config);
      expect(tokens.scope).toBe('read write');
      const { payload } = await verifyWithPublishedJwks(config, tokens.access_token);
      expect(payload.scope).toBe('read write');
    });

    it('sees a scope beyond its ceiling refused as invalid_scope', async () => {
      const error = await client.clientCredentialsGrant(config, { scope: 'admin' }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(client.ResponseBodyError);
      const body = error as client.ResponseBodyError;
      expect(body.status).toBe(400);
      expect(body.error).toBe('invalid_scope');
    });
  });

  it('a wrong secret reaches openid-client as a 401 Basic challenge with invalid_client', async () => {
    const { client: registered } = await server.createClient({ authMethod: 'client_secret_basic' });
    const config = await discover(server, registered.id, client.ClientSecretBasic('clvs_not-the-secret'));
    const error = await client.clientCredentialsGrant(config, { scope: 'read' }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const challenge = error as client.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(401);
    // RFC 6749 §5.2: the challenge matches the scheme the client used; the error is in the body.
    expect(challenge.cause[0]?.scheme).toBe('basic');
    expect(challenge.cause[0]?.parameters.realm).toBe('clavis');
    expect(await challenge.response.json()).toEqual({
      error: 'invalid_client',
      error_description: 'client authentication failed',
    });
  });

  describe('private_key_jwt assertion audience, as openid-client lets a client shape it', () => {
    async function withAudience(aud: (tokenEndpoint: string) => string | string[]) {
      const { publicKey, privateKey } = await generateKeyPair('Ed25519');
      const { client: registered } = await server.createClient({
        authMethod: 'private_key_jwt',
        jwks: { keys: [await exportJWK(publicKey)] },
      });
      const auth = client.PrivateKeyJwt(privateKey, {
        [client.modifyAssertion]: (_header, payload) => {
          payload.aud = aud(`${server.issuer}/oauth/token`);
        },
      });
      return discover(server, registered.id, auth);
    }

    it('aud = the token endpoint URL (what older clients send) is accepted', async () => {
      const config = await withAudience((tokenEndpoint) => tokenEndpoint);
      const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
      expect((await verifyWithPublishedJwks(config, tokens.access_token)).payload.scope).toBe('read');
    });

    it('CA-04: aud as an array (even one naming the issuer) reaches the client as 401 invalid_client', async () => {
      const config = await withAudience(() => [server.issuer]);
      const error = await client.clientCredentialsGrant(config, { scope: 'read' }).then(
        () => null,
        (err: unknown) => err,
      );
      // No Authorization header was used, so RFC 6749 §5.2 lets the server answer without a challenge.
      const status = (error as { status?: number }).status;
      expect(status).toBe(401);
      const code =
        error instanceof client.WWWAuthenticateChallengeError
          ? ((await error.response.json()) as { error?: string }).error
          : (error as client.ResponseBodyError).error;
      expect(code).toBe('invalid_client');
    });
  });

  it("introspecting another client's token answers only active: false", async () => {
    const a = await secretBasic.register(server);
    const b = await secretPost.register(server);
    const configA = await discover(server, a.clientId, a.auth);
    const configB = await discover(server, b.clientId, b.auth);
    const tokens = await client.clientCredentialsGrant(configA, { scope: 'read' });
    const seen = await client.tokenIntrospection(configB, tokens.access_token);
    expect({ ...seen }).toEqual({ active: false });
    // …and the owner still sees it active.
    expect((await client.tokenIntrospection(configA, tokens.access_token)).active).toBe(true);
  });
});

describe.each(['ES256', 'RS256'] as const)('openid-client with %s-signed access tokens', (signingAlg) => {
  let server: RealServer;
  beforeAll(async () => {
    server = await startRealServer(dialects[0] ?? 'sqlite', { signingAlg });
  });
  afterAll(() => server.close());

  it(`issues ${signingAlg} tokens that jose verifies against the published JWKS`, async () => {
    const { clientId, auth } = await secretBasic.register(server);
    const config = await discover(server, clientId, auth);
    expect(config.serverMetadata().access_token_signing_alg_values_supported).toEqual([signingAlg]);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'write' });
    const { payload, protectedHeader } = await verifyWithPublishedJwks(config, tokens.access_token);
    expect(protectedHeader.alg).toBe(signingAlg);
    expect(payload).toMatchObject({ sub: clientId, client_id: clientId, scope: 'write' });
  });
});
