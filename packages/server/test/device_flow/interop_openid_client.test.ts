/**
 * The device flow as openid-client v6 (a client we did not write) drives it against a listening
 * server: initiateDeviceAuthorization, pollDeviceAuthorizationGrant (which waits `interval` seconds
 * in real time — the server is configured with a 1 s interval), refreshTokenGrant. The person's
 * decision is made in storage, as the pages would make it. Access tokens are verified with jose
 * against the published JWKS.
 */
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';
import { createUser } from '../../../../test/support/users.js';
import { decideInStorage } from './support.js';

describe.each(dialects)('openid-client device flow against a listening server (%s)', (dialect) => {
  let server: RealServer;
  let userId: string;

  beforeAll(async () => {
    server = await startRealServer(dialect, { config: { devicePollIntervalSeconds: 1 } });
    const { services, config } = server.running;
    userId = (await createUser({ services, clock: { now: config.clock() } }, { username: 'grace' })).id;
  });
  afterAll(() => server.close());

  const decide = (userCode: string, approve: boolean) =>
    decideInStorage(server.running.services.db, {
      userCode,
      subjectKey: server.running.services.stableKeys.auditSubjects,
      userId,
      approve,
      now: server.running.config.clock(),
    });

  async function publicConfig() {
    const { client: registered } = await server.createClient({ kind: 'public', scopes: ['openid', 'read'] });
    const config = await client.discovery(new URL(server.issuer), registered.id, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    return { clientId: registered.id, config };
  }

  async function verify(config: client.Configuration, token: string) {
    const metadata = config.serverMetadata();
    if (!metadata.jwks_uri) throw new Error('discovery did not list a jwks_uri');
    return jwtVerify<JWTPayload & { client_id: string; scope?: string }>(
      token,
      createRemoteJWKSet(new URL(metadata.jwks_uri)),
      {
        issuer: metadata.issuer,
        typ: 'at+jwt',
        audience: metadata.issuer,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
      },
    );
  }

  async function failure(promise: Promise<unknown>): Promise<client.ResponseBodyError> {
    const error = await promise.then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(client.ResponseBodyError);
    return error as client.ResponseBodyError;
  }

  it('discovery lists the device authorization endpoint and the device grant', async () => {
    const { config } = await publicConfig();
    const metadata = config.serverMetadata();
    expect(metadata.device_authorization_endpoint).toBe(`${server.issuer}/oauth/device_authorization`);
    expect(metadata.grant_types_supported).toEqual(
      expect.arrayContaining(['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token']),
    );
  });

  it('initiate → approve → poll → tokens for the person → refresh rotates → reuse kills the family', async () => {
    const { clientId, config } = await publicConfig();
    const response = await client.initiateDeviceAuthorization(config, { scope: 'openid read' });
    expect(response).toMatchObject({
      verification_uri: `${server.issuer}/device`,
      expires_in: 600,
      interval: 1,
    });
    expect(response.verification_uri_complete).toBe(
      `${server.issuer}/device?user_code=${response.user_code}`,
    );
    expect(await decide(response.user_code, true)).toBe(true);

    const tokens = await client.pollDeviceAuthorizationGrant(config, response);
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('openid read');
    expect(tokens.refresh_token).toMatch(/^clvr_/);
    const { payload } = await verify(config, tokens.access_token);
    expect(payload).toMatchObject({
      iss: server.issuer,
      sub: userId,
      client_id: clientId,
      scope: 'openid read',
    });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
    expect(refreshed.refresh_token).toMatch(/^clvr_/);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    const again = await verify(config, refreshed.access_token);
    expect(again.payload).toMatchObject({ sub: userId, client_id: clientId, scope: 'openid read' });
    expect(again.payload.jti).not.toBe(payload.jti);

    const reuse = await failure(client.refreshTokenGrant(config, tokens.refresh_token ?? ''));
    expect(reuse.status).toBe(400);
    expect(reuse.error).toBe('invalid_grant');
    const afterReuse = await failure(client.refreshTokenGrant(config, refreshed.refresh_token ?? ''));
    expect(afterReuse.error).toBe('invalid_grant');
  });

  it('a denial reaches the polling client as access_denied', async () => {
    const { config } = await publicConfig();
    const response = await client.initiateDeviceAuthorization(config, { scope: 'read' });
    expect(await decide(response.user_code, false)).toBe(true);
    const error = await failure(client.pollDeviceAuthorizationGrant(config, response));
    expect(error.status).toBe(400);
    expect(error.error).toBe('access_denied');
  });

  it('a confidential client (client_secret_basic) runs the same flow', async () => {
    const { client: registered, secret } = await server.createClient({
      kind: 'confidential',
      grants: ['device_code', 'refresh_token'],
      scopes: ['read'],
    });
    const config = await client.discovery(
      new URL(server.issuer),
      registered.id,
      undefined,
      client.ClientSecretBasic(secret ?? ''),
      { execute: [client.allowInsecureRequests] },
    );
    const response = await client.initiateDeviceAuthorization(config, { scope: 'read' });
    expect(await decide(response.user_code, true)).toBe(true);
    const tokens = await client.pollDeviceAuthorizationGrant(config, response);
    expect((await verify(config, tokens.access_token)).payload).toMatchObject({
      sub: userId,
      client_id: registered.id,
    });
    const introspected = await client.tokenIntrospection(config, tokens.refresh_token ?? '');
    expect(introspected).toMatchObject({ active: true, token_type: 'refresh_token', sub: userId });
    await client.tokenRevocation(config, tokens.refresh_token ?? '');
    expect({ ...(await client.tokenIntrospection(config, tokens.access_token)) }).toEqual({ active: false });
  });
});
