/**
 * Interop with Python Authlib (a client we did not write, in another language): discovery checked with
 * Authlib's RFC 8414 / OpenID metadata models; client_credentials through `OAuth2Session` with each
 * client-authentication method; the device authorization grant with its polling errors, refresh
 * rotation and reuse; introspection and revocation; RFC 6749 §5.2 errors as Authlib parses them; and
 * token exchange of an API key and the jwt-bearer grant (AssertionSession). Every access token is
 * verified with Authlib's JOSE against the JWKS the server publishes.
 *
 * The scripts in ./authlib/ run under Debian's Python with Debian's python3-authlib and python3-requests
 * (`.ci/run` installs them), each taking its input as JSON in CLAVIS_INTEROP_INPUT and printing JSON.
 */
import { execFile, execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { adminApiKeys, adminFederations } from '@clavis/server';
import { exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideInStorage } from '../../../../test/support/device_decision.js';
import { dialects } from '../../../../test/support/dialects.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';
import { createUser } from '../../../../test/support/users.js';
import type { DeviceAuthorization } from '../device_flow/support.js';

const SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), 'authlib');
/** Debian's interpreter: the one python3-authlib installs for (a python3 earlier on PATH may not see it). */
const PYTHON = process.env.CLAVIS_TEST_PYTHON ?? '/usr/bin/python3';

function authlibAvailable(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import authlib, requests'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Outside CI the suite is skipped where Debian's python3-authlib is missing; in CI it must run. */
const runAuthlib = authlibAvailable() || process.env.CI === 'true';

const execFileAsync = promisify(execFile);

/** Runs one Authlib script with its input and returns the JSON it printed. */
async function authlib<T>(script: string, input: Record<string, unknown>): Promise<T> {
  const { stdout } = await execFileAsync(PYTHON, [join(SCRIPTS, script)], {
    // No __pycache__ left beside the scripts in the work tree.
    env: { ...process.env, CLAVIS_INTEROP_INPUT: JSON.stringify(input), PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 30_000,
  });
  return JSON.parse(stdout) as T;
}

/** What Authlib's OAuthError carried: RFC 6749 §5.2 `error` and `error_description`. */
interface OAuthFailure {
  error: string;
  description: string | null;
}

/** An access token as Authlib's JOSE decoded and checked it. */
interface Verified {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  expires_at: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
  issued_token_type?: string;
}

interface DiscoveryDocument {
  status: number;
  content_type: string;
  metadata: Record<string, unknown>;
  validate: string;
  validate_rfc_response_types: string;
}

interface ClientCredentialsRun {
  token: TokenResponse;
  guessed_grant: TokenResponse;
  verified: Verified;
  default_scope: string;
  wider_scope: OAuthFailure;
  introspection: { status: number; body: Record<string, unknown> };
  revocation: { status: number; body: string };
  introspection_after_revocation: { status: number; body: Record<string, unknown> };
  default_audience_token?: string;
  default_audience_introspection?: { status: number; body: Record<string, unknown> };
}

type Credentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; secret: string }
  | { method: 'private_key_jwt'; alg: 'RS256' | 'ES256' | 'EdDSA'; private_key_pem: string };

const keyAlgs = {
  RS256: { generate: 'RS256', kid: 'rsa-1' },
  ES256: { generate: 'ES256', kid: 'p256-1' },
  EdDSA: { generate: 'Ed25519', kid: 'ed25519-1' },
} as const;

describe.runIf(runAuthlib).each(dialects)('Python Authlib against a listening server (%s)', (dialect) => {
  let server: RealServer;
  let userId: string;
  /** The server's clock runs this far ahead of real time: device polling moves it, nothing sleeps. */
  let aheadMs = 0;

  beforeAll(async () => {
    server = await startRealServer(dialect, {
      config: { devicePollIntervalSeconds: 1, clock: () => Date.now() + aheadMs },
    });
    const { services, config } = server.running;
    userId = (await createUser({ services, clock: { now: config.clock() } }, { username: 'ada' })).id;
  });
  afterAll(() => server?.close());

  /**
   * Registers a client for `kind`. With `rotating`, a private_key_jwt client registers an outgoing key
   * of the same type before the one it signs with, as during a key rotation.
   */
  async function register(kind: Credentials['method'], alg?: keyof typeof keyAlgs, rotating = false) {
    if (kind !== 'private_key_jwt') {
      const { client, secret } = await server.createClient({ authMethod: kind });
      return { clientId: client.id, credentials: { method: kind, secret: secret ?? '' } as Credentials };
    }
    const chosen = keyAlgs[alg ?? 'RS256'];
    const { publicKey, privateKey } = await generateKeyPair(chosen.generate, { extractable: true });
    const keys: JWK[] = [{ ...(await exportJWK(publicKey)), kid: chosen.kid }];
    if (rotating) {
      const outgoing = await generateKeyPair(chosen.generate, { extractable: true });
      keys.unshift({ ...(await exportJWK(outgoing.publicKey)), kid: `${chosen.kid}-outgoing` });
    }
    const { client } = await server.createClient({ authMethod: 'private_key_jwt', jwks: { keys } });
    const credentials: Credentials = {
      method: 'private_key_jwt',
      alg: alg ?? 'RS256',
      private_key_pem: await exportPKCS8(privateKey),
    };
    return { clientId: client.id, credentials };
  }

  describe('discovery', () => {
    let docs: { oauth: DiscoveryDocument; openid: DiscoveryDocument };
    beforeAll(async () => {
      docs = await authlib('discovery.py', { issuer: server.issuer });
    });

    it('serves the same RFC 8414 metadata at both well-known paths, as JSON', () => {
      for (const doc of [docs.oauth, docs.openid]) {
        expect(doc.status).toBe(200);
        expect(doc.content_type).toMatch(/^application\/json/);
      }
      expect(docs.openid.metadata).toEqual(docs.oauth.metadata);
      expect(docs.oauth.metadata).toMatchObject({
        issuer: server.issuer,
        token_endpoint: `${server.issuer}/oauth/token`,
        device_authorization_endpoint: `${server.issuer}/oauth/device_authorization`,
        introspection_endpoint: `${server.issuer}/oauth/introspect`,
        revocation_endpoint: `${server.issuer}/oauth/revoke`,
        jwks_uri: `${server.issuer}/.well-known/jwks.json`,
      });
    });

    it("passes Authlib's AuthorizationServerMetadata checks, with the RFC's own rule for response_types_supported", () => {
      expect(docs.oauth.validate_rfc_response_types).toBe('ok');
    });

    it("Authlib's validate() objects only to the empty response_types_supported (no authorization endpoint)", () => {
      // RFC 8414 §2 requires the member as an array of the response types supported: with no
      // authorization endpoint, that is `[]` (RFC 7591 §2.1). Authlib 1.2 reads an empty array as absent.
      expect(docs.oauth.metadata.response_types_supported).toEqual([]);
      expect(docs.oauth.validate).toBe('"response_types_supported" is required');
    });

    it("passes Authlib's OpenIDProviderMetadata checks with EdDSA access tokens: RS256 is listed for ID tokens", () => {
      // OpenID Connect Discovery 1.0 §3: RS256 MUST be among the ID-token algs, whatever signs the
      // access tokens (still EdDSA here).
      expect(docs.openid.metadata.id_token_signing_alg_values_supported).toEqual(['RS256']);
      expect(docs.openid.metadata.access_token_signing_alg_values_supported).toEqual(['EdDSA']);
      expect(docs.openid.validate_rfc_response_types).toBe('ok');
      // Authlib's own validate() objects only to the empty response_types_supported, as above.
      expect(docs.openid.validate).toBe('"response_types_supported" is required');
    });
  });

  describe.each([
    { name: 'client_secret_basic', kind: 'client_secret_basic' as const },
    { name: 'client_secret_post', kind: 'client_secret_post' as const },
    {
      name: 'private_key_jwt, RS256, the Authlib default',
      kind: 'private_key_jwt' as const,
      alg: 'RS256' as const,
    },
    { name: 'private_key_jwt, ES256', kind: 'private_key_jwt' as const, alg: 'ES256' as const },
    { name: 'private_key_jwt, EdDSA', kind: 'private_key_jwt' as const, alg: 'EdDSA' as const },
    // Authlib 1.2's PrivateKeyJWT puts no `kid` in its assertions (it drops the headers it is given),
    // so the server must find the signing key among the client's registered keys by trying them.
    {
      name: 'private_key_jwt, RS256, two registered RSA keys and no kid in the assertion',
      kind: 'private_key_jwt' as const,
      alg: 'RS256' as const,
      rotating: true,
    },
  ])('client_credentials with $name', ({ kind, alg, rotating }) => {
    let clientId: string;
    let run: ClientCredentialsRun;
    beforeAll(async () => {
      const registered = await register(kind, alg, rotating);
      clientId = registered.clientId;
      run = await authlib('client_credentials.py', {
        issuer: server.issuer,
        client_id: clientId,
        ...registered.credentials,
      });
    });

    it('gets a bearer token for the asked scope, with no refresh token', () => {
      expect(run.token).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'read' });
      expect(run.token.refresh_token).toBeUndefined();
    });

    it("the token verifies with Authlib's JOSE against jwks_uri: iss, aud, exp, typ at+jwt", () => {
      expect(run.verified.header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: expect.any(String) });
      expect(run.verified.claims).toMatchObject({
        iss: server.issuer,
        aud: server.issuer,
        sub: clientId,
        client_id: clientId,
        scope: 'read',
      });
      const { exp, iat } = run.verified.claims as { exp: number; iat: number };
      expect(exp - iat).toBe(600);
    });

    it("fetch_token with no grant type and the session's scope gets a client_credentials token", () => {
      expect(run.guessed_grant).toMatchObject({ token_type: 'Bearer', scope: 'write' });
    });

    it('no scope gets the ceiling; a scope beyond it is invalid_scope', () => {
      expect(run.default_scope).toBe('read write');
      expect(run.wider_scope.error).toBe('invalid_scope');
    });

    it('introspection says active, revocation answers 200, and then introspection says active: false', () => {
      expect(run.introspection.status).toBe(200);
      expect(run.introspection.body).toMatchObject({
        active: true,
        client_id: clientId,
        sub: clientId,
        scope: 'read',
        jti: run.verified.claims.jti,
      });
      expect(run.revocation).toEqual({ status: 200, body: '' });
      expect(run.introspection_after_revocation).toEqual({ status: 200, body: { active: false } });
    });

    it.runIf(kind === 'private_key_jwt')(
      'PrivateKeyJWT() without a token endpoint: accepted at the token endpoint, refused elsewhere (CA-04)',
      () => {
        expect(run.default_audience_token).toBe('read');
        expect(run.default_audience_introspection).toMatchObject({
          status: 401,
          body: { error: 'invalid_client' },
        });
      },
    );
  });

  describe('RFC 6749 §5.2 errors as Authlib parses them', () => {
    type Failure = OAuthFailure & { status: number; www_authenticate: string | null };
    let run: Record<string, Failure> & {
      introspection_wrong_secret: { status: number; www_authenticate: string | null; body: unknown };
    };
    beforeAll(async () => {
      const { client, secret } = await server.createClient({ authMethod: 'client_secret_basic' });
      const { client: publicClient } = await server.createClient({ kind: 'public', scopes: ['read'] });
      run = await authlib('errors.py', {
        issuer: server.issuer,
        client_id: client.id,
        secret,
        public_client_id: publicClient.id,
      });
    });

    it('a wrong secret in Basic: 401 invalid_client with a Basic challenge', () => {
      expect(run.wrong_secret_basic).toMatchObject({ error: 'invalid_client', status: 401 });
      expect(run.wrong_secret_basic?.www_authenticate).toMatch(/^Basic realm="clavis"/);
    });

    it('a wrong secret in the body: 401 invalid_client', () => {
      expect(run.wrong_secret_post).toMatchObject({ error: 'invalid_client', status: 401 });
    });

    it('an unknown grant type, and the password grant, are unsupported_grant_type', () => {
      expect(run.unknown_grant_type).toMatchObject({ error: 'unsupported_grant_type', status: 400 });
      expect(run.password_grant).toMatchObject({ error: 'unsupported_grant_type', status: 400 });
    });

    it('a device code or refresh token that is not one is invalid_grant', () => {
      expect(run.bogus_device_code).toMatchObject({ error: 'invalid_grant', status: 400 });
      expect(run.bogus_refresh_token).toMatchObject({ error: 'invalid_grant', status: 400 });
    });

    it('a grant the client may not use is unauthorized_client; a scope beyond its ceiling invalid_scope', () => {
      expect(run.refresh_not_allowed).toMatchObject({ error: 'unauthorized_client', status: 400 });
      expect(run.scope_beyond_ceiling).toMatchObject({ error: 'invalid_scope', status: 400 });
    });

    it('introspection with a wrong secret is 401 invalid_client, never an answer about the token', () => {
      expect(run.introspection_wrong_secret).toMatchObject({
        status: 401,
        body: { error: 'invalid_client', error_description: 'client authentication failed' },
      });
    });
  });

  describe('device authorization grant (RFC 8628)', () => {
    interface Start {
      auth_method: string;
      device_authorization: {
        status: number;
        body: DeviceAuthorization;
      };
      first_poll: OAuthFailure;
      second_poll: OAuthFailure;
    }
    interface Finish {
      token: TokenResponse;
      verified: Verified;
      id_token_verified?: Verified;
      replayed_device_code: OAuthFailure;
      refreshed: TokenResponse;
      refreshed_verified: Verified;
      refreshed_id_token_verified?: Verified;
      reused_refresh_token: OAuthFailure;
      successor_after_reuse: OAuthFailure;
    }
    let clientId: string;
    let start: Start;
    let finish: Finish;

    beforeAll(async () => {
      const { client } = await server.createClient({ kind: 'public', scopes: ['openid', 'read'] });
      clientId = client.id;
      start = await authlib('device_flow.py', {
        issuer: server.issuer,
        client_id: clientId,
        step: 'start',
        scope: 'openid read',
      });
      const { user_code: userCode, device_code: deviceCode, interval } = start.device_authorization.body;
      const approved = await decideInStorage(server.running.services.db, {
        userCode,
        subjectKey: server.running.services.stableKeys.auditSubjects,
        userId,
        approve: true,
        now: server.running.config.clock(),
      });
      expect(approved).toBe(true);
      // After slow_down the device waits interval + 5 s (RFC 8628 §3.5): move the server's clock on.
      aheadMs += (interval + 5) * 1000;
      finish = await authlib('device_flow.py', {
        issuer: server.issuer,
        client_id: clientId,
        step: 'finish',
        scope: 'openid read',
        device_code: deviceCode,
      });
    });

    it('the device authorization response has what RFC 8628 §3.2 asks', () => {
      expect(start.auth_method).toBe('none');
      expect(start.device_authorization.status).toBe(200);
      expect(start.device_authorization.body).toMatchObject({
        verification_uri: `${server.issuer}/device`,
        expires_in: 600,
        interval: 1,
      });
      const { user_code: userCode, verification_uri_complete: complete } = start.device_authorization.body;
      expect(complete).toBe(`${server.issuer}/device?user_code=${userCode}`);
    });

    it('polls before approval: authorization_pending, then slow_down for polling too fast', () => {
      expect(start.first_poll.error).toBe('authorization_pending');
      expect(start.second_poll.error).toBe('slow_down');
    });

    it("after approval: tokens for the person, verified with Authlib's JOSE", () => {
      expect(finish.token).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'openid read' });
      expect(finish.token.refresh_token).toMatch(/^clvr_/);
      expect(finish.verified.header.typ).toBe('at+jwt');
      expect(finish.verified.claims).toMatchObject({
        iss: server.issuer,
        aud: server.issuer,
        sub: userId,
        client_id: clientId,
        scope: 'openid read',
      });
    });

    it("the ID tokens verify as an Authlib OpenID client's default expects: RS256, with the JWKS", () => {
      // The access tokens stay EdDSA; the ID tokens are RS256 (OIDC Core §3.1.3.7's default).
      expect(finish.verified.header.alg).toBe('EdDSA');
      expect(finish.id_token_verified?.header).toMatchObject({ alg: 'RS256', typ: 'JWT' });
      expect(finish.id_token_verified?.claims).toMatchObject({
        iss: server.issuer,
        aud: clientId,
        sub: userId,
      });
      expect(finish.refreshed_id_token_verified?.header.alg).toBe('RS256');
      expect(finish.refreshed_id_token_verified?.claims).toMatchObject({ sub: userId, aud: clientId });
    });

    it('the used device code presented again is invalid_grant (DF-08)', () => {
      expect(finish.replayed_device_code.error).toBe('invalid_grant');
    });

    it("Authlib's refresh_token rotates the refresh token and gets a new access token", () => {
      expect(finish.refreshed.refresh_token).toMatch(/^clvr_/);
      expect(finish.refreshed.refresh_token).not.toBe(finish.token.refresh_token);
      expect(finish.refreshed.scope).toBe('openid read');
      expect(finish.refreshed_verified.claims).toMatchObject({ sub: userId, client_id: clientId });
      expect(finish.refreshed_verified.claims.jti).not.toBe(finish.verified.claims.jti);
    });

    it('the rotated-out refresh token is invalid_grant, and its reuse revokes the successor (RT-02)', () => {
      expect(finish.reused_refresh_token.error).toBe('invalid_grant');
      expect(finish.successor_after_reuse.error).toBe('invalid_grant');
    });
  });

  it("the jwt-bearer grant (RFC 7523) with Authlib's AssertionSession signing as a federated workload", async () => {
    const { client } = await server.createClient({ scopes: ['read'] });
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const outgoing = await generateKeyPair('ES256');
    const workloadIssuer = 'https://workload.example.test';
    const subject = 'workload:deployer';
    const { config, services } = server.running;
    await adminFederations.createFederation(
      {
        db: services.db,
        audit: services.audit,
        clock: config.clock,
        maxAccessTokenTtlSeconds: config.maxAccessTokenTtlSeconds,
      },
      {
        clientId: client.id,
        issuer: workloadIssuer,
        // Authlib's default audience for the assertion: the token endpoint URL.
        audience: `${server.issuer}/oauth/token`,
        conditions: [{ claim: 'sub', pattern: subject }],
        // The outgoing key beside the current one, as mid-rotation: Authlib's assertion names neither.
        jwks: { keys: [await exportJWK(outgoing.publicKey), await exportJWK(publicKey)] },
      },
      { type: 'admin', id: 'interop-test' },
    );
    const run = await authlib<{ token: TokenResponse; verified: Verified; other_subject: OAuthFailure }>(
      'jwt_bearer.py',
      {
        issuer: server.issuer,
        workload_issuer: workloadIssuer,
        subject,
        private_key_pem: await exportPKCS8(privateKey),
        alg: 'ES256',
      },
    );
    expect(run.token).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    expect(run.verified.claims).toMatchObject({ iss: server.issuer, sub: client.id, client_id: client.id });
    expect(run.other_subject.error).toBe('invalid_grant');
  });

  it('token exchange (RFC 8693) of an API key through fetch_token; a bad key is invalid_request', async () => {
    const { client } = await server.createClient({ authMethod: 'client_secret_basic', scopes: ['read'] });
    const { config, services } = server.running;
    const key = await adminApiKeys.createApiKey(
      {
        db: services.db,
        audit: services.audit,
        hasher: services.hasher,
        clock: config.clock,
        apiKeyMaxTtlSeconds: config.apiKeyMaxTtlSeconds,
      },
      { owner: client.id, scopes: ['read'], ttlSeconds: 3600 },
      { type: 'admin', id: 'interop-test' },
    );
    const run = await authlib<{ token: TokenResponse; verified: Verified; bad_key: OAuthFailure }>(
      'token_exchange.py',
      { issuer: server.issuer, client_id: client.id, api_key: key.plaintext },
    );
    expect(run.token).toMatchObject({
      token_type: 'Bearer',
      scope: 'read',
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    });
    expect(run.verified.claims).toMatchObject({ iss: server.issuer, sub: client.id, scope: 'read' });
    expect(run.bad_key.error).toBe('invalid_request');
  });
});

describe.runIf(runAuthlib)('Python Authlib and a server that signs with RS256', () => {
  let server: RealServer;
  beforeAll(async () => {
    server = await startRealServer(dialects[0] ?? 'sqlite', { signingAlg: 'RS256' });
  });
  afterAll(() => server?.close());

  it("passes Authlib's OpenIDProviderMetadata checks (RS256 listed for ID tokens)", async () => {
    const docs = await authlib<{ openid: DiscoveryDocument }>('discovery.py', { issuer: server.issuer });
    expect(docs.openid.metadata.id_token_signing_alg_values_supported).toEqual(['RS256']);
    expect(docs.openid.validate_rfc_response_types).toBe('ok');
  });

  it("issues RS256 access tokens that Authlib's JOSE verifies against jwks_uri", async () => {
    const { client, secret } = await server.createClient({ authMethod: 'client_secret_basic' });
    const run = await authlib<ClientCredentialsRun>('client_credentials.py', {
      issuer: server.issuer,
      client_id: client.id,
      method: 'client_secret_basic',
      secret,
    });
    expect(run.verified.header).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(run.verified.claims).toMatchObject({ iss: server.issuer, sub: client.id });
  });
});
