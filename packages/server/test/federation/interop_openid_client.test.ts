/**
 * Exchange through openid-client (a client we did not write), over real HTTP: a listening Clavis
 * server, a listening workload-token issuer on loopback, and `genericGrantRequest` for both RFC 8693
 * token exchange and the RFC 7523 JWT bearer grant. The issued token is verified with jose against the
 * JWKS the server publishes, as a resource server would.
 */
import { adminFederations, type Client } from '@clavis/server';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';
import { type FakeIssuer, startFakeIssuer } from './fake_issuer.js';

describe.each(dialects)('openid-client exchanges a workload token (%s)', (dialect) => {
  let server: RealServer;
  let issuer: FakeIssuer;
  let principal: Client;
  let config: client.Configuration;

  beforeAll(async () => {
    server = await startRealServer(dialect);
    issuer = await startFakeIssuer();
    principal = (await server.createClient({ name: 'ci deployer', scopes: ['read', 'deploy'] })).client;
    const { services, config: serverConfig } = server.running;
    await adminFederations.createFederation(
      {
        db: services.db,
        audit: services.audit,
        clock: serverConfig.clock,
        maxAccessTokenTtlSeconds: serverConfig.maxAccessTokenTtlSeconds,
      },
      {
        clientId: principal.id,
        preset: 'github-actions',
        issuer: issuer.issuer,
        audience: server.issuer,
        conditions: [{ claim: 'repository', pattern: 'acme/app' }],
        scopes: ['deploy'],
      },
      { type: 'admin', id: 'interop-test' },
    );
    // No client secret: the workload token is the credential; client_id names the principal.
    config = await client.discovery(new URL(server.issuer), principal.id, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(async () => {
    await issuer?.close();
    await server?.close();
  });

  const workloadToken = (overrides: Record<string, unknown> = {}) =>
    issuer.mint(issuer.github(Date.now(), { aud: server.issuer, ...overrides }));

  async function verify(token: string) {
    const metadata = config.serverMetadata();
    return jwtVerify(token, createRemoteJWKSet(new URL(metadata.jwks_uri ?? '')), {
      issuer: metadata.issuer,
      audience: metadata.issuer,
      typ: 'at+jwt',
    });
  }

  it('discovery lists both grants', () => {
    expect(config.serverMetadata().grant_types_supported).toEqual(
      expect.arrayContaining([
        'urn:ietf:params:oauth:grant-type:token-exchange',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
      ]),
    );
  });

  it('token exchange: the access token is the principal’s and names the run', async () => {
    const tokens = await client.genericGrantRequest(
      config,
      'urn:ietf:params:oauth:grant-type:token-exchange',
      {
        subject_token: await workloadToken(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      },
    );
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
    expect(tokens.scope).toBe('deploy');
    expect(tokens.refresh_token).toBeUndefined();
    const { payload } = await verify(tokens.access_token);
    expect(payload).toMatchObject({
      sub: principal.id,
      client_id: principal.id,
      scope: 'deploy',
      federation: { iss: issuer.issuer, repository: 'acme/app', run_id: '9876543210' },
    });
  });

  it('jwt-bearer: the same through RFC 7523', async () => {
    const tokens = await client.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:jwt-bearer', {
      assertion: await workloadToken(),
    });
    const { payload } = await verify(tokens.access_token);
    expect(payload.sub).toBe(principal.id);
  });

  it('refusals reach openid-client as RFC 6749 errors', async () => {
    const refused = async (grant: string, params: Record<string, string>) =>
      client.genericGrantRequest(config, grant, params).then(
        () => null,
        (err: unknown) => err as client.ResponseBodyError,
      );
    const te = 'urn:ietf:params:oauth:grant-type:token-exchange';
    const type = 'urn:ietf:params:oauth:token-type:jwt';
    const wrongRepo = await refused(te, {
      subject_token: await workloadToken({ repository: 'acme/other' }),
      subject_token_type: type,
    });
    expect(wrongRepo).toBeInstanceOf(client.ResponseBodyError);
    expect(wrongRepo).toMatchObject({ status: 400, error: 'invalid_grant' });

    const wrongAud = await refused(te, {
      subject_token: await workloadToken({ aud: 'https://elsewhere.test' }),
      subject_token_type: type,
    });
    expect(wrongAud).toMatchObject({ status: 400, error: 'invalid_request' });

    const wideScope = await refused(te, {
      subject_token: await workloadToken(),
      subject_token_type: type,
      scope: 'read',
    });
    expect(wideScope).toMatchObject({ status: 400, error: 'invalid_scope' });

    const replay = await workloadToken();
    await client.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:jwt-bearer', {
      assertion: replay,
    });
    const again = await refused('urn:ietf:params:oauth:grant-type:jwt-bearer', { assertion: replay });
    expect(again).toMatchObject({ status: 400, error: 'invalid_grant' });
  });
});
