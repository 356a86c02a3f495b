/**
 * OpenID Connect for the device flow as two clients we did not write see it, against a listening
 * server: openid-client v6 (discovery from /.well-known/openid-configuration, the device flow with
 * `openid`, `claims()` of the ID token, `fetchUserInfo`, refresh) and oauth4webapi used directly
 * (`processDeviceCodeResponse` validating the ID token, `processUserInfoResponse`, refresh). The person's
 * decision is made in storage, as the pages would make it.
 */
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';
import { createUser } from '../../../../test/support/users.js';
import { decideInStorage } from '../device_flow/support.js';

describe.each(dialects)('OpenID Connect interop for the device flow (%s)', (dialect) => {
  let server: RealServer;
  let userId: string;
  let clientId: string;
  let signedInAt: number;

  beforeAll(async () => {
    server = await startRealServer(dialect, { config: { devicePollIntervalSeconds: 1 } });
    const { services, config } = server.running;
    userId = (await createUser({ services, clock: { now: config.clock() } }, { username: 'ada' })).id;
    clientId = (await server.createClient({ kind: 'public', scopes: ['openid', 'profile', 'read'] })).client
      .id;
    signedInAt = config.clock() - 5_000;
  });
  afterAll(() => server.close());

  const approve = (userCode: string) =>
    decideInStorage(server.running.services.db, {
      userCode,
      subjectKey: server.running.services.stableKeys.auditSubjects,
      userId,
      approve: true,
      now: server.running.config.clock(),
      authentication: { time: signedInAt, methods: ['pwd', 'otp', 'mfa'] },
    });

  describe('openid-client', () => {
    let config: client.Configuration;

    beforeAll(async () => {
      config = await client.discovery(new URL(server.issuer), clientId, undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
    });

    it('discovers the OpenID Connect metadata', () => {
      const metadata = config.serverMetadata();
      expect(metadata.userinfo_endpoint).toBe(`${server.issuer}/oauth/userinfo`);
      // RS256 for ID tokens although the access tokens are EdDSA (Discovery §3: RS256 MUST be included).
      expect(metadata.id_token_signing_alg_values_supported).toEqual(['RS256']);
      expect(metadata.access_token_signing_alg_values_supported).toEqual(['EdDSA']);
      expect(metadata.subject_types_supported).toEqual(['public']);
      expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile']));
    });

    it('device flow with openid: an ID token it validates, userinfo, and a refresh with the same sub', async () => {
      const response = await client.initiateDeviceAuthorization(config, { scope: 'openid profile' });
      expect(await approve(response.user_code)).toBe(true);
      const tokens = await client.pollDeviceAuthorizationGrant(config, response);
      const claims = tokens.claims();
      expect(claims).toMatchObject({
        iss: server.issuer,
        sub: userId,
        aud: clientId,
        auth_time: Math.floor(signedInAt / 1000),
        amr: ['pwd', 'otp', 'mfa'],
        preferred_username: 'ada',
      });

      const info = await client.fetchUserInfo(config, tokens.access_token, claims?.sub ?? '');
      expect({ ...info }).toEqual({ sub: userId, preferred_username: 'ada' });
      // Another subject than the ID token's is refused by the client itself.
      await expect(client.fetchUserInfo(config, tokens.access_token, 'usr_other')).rejects.toThrow();

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
      expect(refreshed.claims()).toMatchObject({
        sub: userId,
        aud: clientId,
        auth_time: Math.floor(signedInAt / 1000),
      });
      expect(refreshed.claims()?.iat).toBeGreaterThanOrEqual(claims?.iat ?? Number.POSITIVE_INFINITY);
    });

    it('with non-repudiation checks on, it verifies the RS256 ID token against the published JWKS', async () => {
      const checking = await client.discovery(new URL(server.issuer), clientId, undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
      client.enableNonRepudiationChecks(checking);
      const response = await client.initiateDeviceAuthorization(checking, { scope: 'openid' });
      expect(await approve(response.user_code)).toBe(true);
      const tokens = await client.pollDeviceAuthorizationGrant(checking, response);
      const header = JSON.parse(
        Buffer.from((tokens.id_token ?? '').split('.')[0] ?? '', 'base64url').toString(),
      ) as { alg: string };
      expect(header.alg).toBe('RS256');
      expect(tokens.claims()).toMatchObject({ sub: userId, aud: clientId });
      // The same checks on a refresh's ID token.
      const refreshed = await client.refreshTokenGrant(checking, tokens.refresh_token ?? '');
      expect(refreshed.claims()).toMatchObject({ sub: userId });
    });

    it('without openid: no ID token, and userinfo refuses the token', async () => {
      const response = await client.initiateDeviceAuthorization(config, { scope: 'read' });
      expect(await approve(response.user_code)).toBe(true);
      const tokens = await client.pollDeviceAuthorizationGrant(config, response);
      expect(tokens.id_token).toBeUndefined();
      expect(tokens.claims()).toBeUndefined();
      const error = await client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck).then(
        () => null,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(client.WWWAuthenticateChallengeError);
      const challenge = (error as client.WWWAuthenticateChallengeError).cause[0];
      expect(challenge?.scheme).toBe('bearer');
      expect(challenge?.parameters.error).toBe('insufficient_scope');
    });
  });

  describe('oauth4webapi', () => {
    const insecure = { [oauth.allowInsecureRequests]: true } as const;
    let as: oauth.AuthorizationServer;
    const oauthClient = () => ({ client_id: clientId }) satisfies oauth.Client;

    beforeAll(async () => {
      const issuer = new URL(server.issuer);
      as = await oauth.processDiscoveryResponse(
        issuer,
        await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
      );
    });

    it('validates the ID token from processDeviceCodeResponse and reads userinfo', async () => {
      const c = oauthClient();
      const auth = oauth.None();
      const authorization = await oauth.processDeviceAuthorizationResponse(
        as,
        c,
        await oauth.deviceAuthorizationRequest(
          as,
          c,
          auth,
          new URLSearchParams({ scope: 'openid profile' }),
          insecure,
        ),
      );
      expect(await approve(authorization.user_code)).toBe(true);
      const tokens = await oauth.processDeviceCodeResponse(
        as,
        c,
        await oauth.deviceCodeGrantRequest(as, c, auth, authorization.device_code, insecure),
      );
      const claims = oauth.getValidatedIdTokenClaims(tokens);
      expect(claims).toMatchObject({
        iss: server.issuer,
        sub: userId,
        aud: clientId,
        preferred_username: 'ada',
      });

      const info = await oauth.processUserInfoResponse(
        as,
        c,
        claims?.sub ?? '',
        await oauth.userInfoRequest(as, c, tokens.access_token, insecure),
      );
      expect({ ...info }).toEqual({ sub: userId, preferred_username: 'ada' });

      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        c,
        await oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token ?? '', insecure),
      );
      expect(oauth.getValidatedIdTokenClaims(refreshed)).toMatchObject({
        sub: userId,
        auth_time: Math.floor(signedInAt / 1000),
      });
    });

    it('userinfo with a revoked access token is an invalid_token challenge', async () => {
      const c = oauthClient();
      const auth = oauth.None();
      const authorization = await oauth.processDeviceAuthorizationResponse(
        as,
        c,
        await oauth.deviceAuthorizationRequest(
          as,
          c,
          auth,
          new URLSearchParams({ scope: 'openid' }),
          insecure,
        ),
      );
      expect(await approve(authorization.user_code)).toBe(true);
      const tokens = await oauth.processDeviceCodeResponse(
        as,
        c,
        await oauth.deviceCodeGrantRequest(as, c, auth, authorization.device_code, insecure),
      );
      await oauth.processRevocationResponse(
        await oauth.revocationRequest(as, c, auth, tokens.access_token, insecure),
      );
      const response = await oauth.userInfoRequest(as, c, tokens.access_token, insecure);
      const error = await oauth.processUserInfoResponse(as, c, userId, response).then(
        () => null,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
      expect((error as oauth.WWWAuthenticateChallengeError).cause[0]?.parameters.error).toBe('invalid_token');
      expect(response.status).toBe(401);
    });
  });
});
