/**
 * Interop with oauth4webapi used directly (the low-level, spec-strict library under openid-client):
 * RFC 8414 discovery processing, client_credentials with client_secret_basic, and RFC 9068 validation
 * of the access token as a resource server would do it, plus introspection and revocation.
 */
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;

describe.each(dialects)('oauth4webapi against a listening server (%s)', (dialect) => {
  let server: RealServer;
  let as: oauth.AuthorizationServer;
  let client: oauth.Client;
  let auth: oauth.ClientAuth;

  beforeAll(async () => {
    server = await startRealServer(dialect);
    const { client: registered, secret } = await server.createClient({ authMethod: 'client_secret_basic' });
    client = { client_id: registered.id };
    auth = oauth.ClientSecretBasic(secret ?? '');
    const issuer = new URL(server.issuer);
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    );
  });
  afterAll(() => server.close());

  it('processes the RFC 8414 metadata from /.well-known/oauth-authorization-server', () => {
    expect(as.issuer).toBe(server.issuer);
    expect(as.token_endpoint).toBe(`${server.issuer}/oauth/token`);
    expect(as.grant_types_supported).toContain('client_credentials');
    expect(as.response_types_supported).toEqual([]);
  });

  it('gets a client_credentials token that validates as an RFC 9068 JWT access token', async () => {
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      auth,
      new URLSearchParams({ scope: 'read write' }),
      insecure,
    );
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.expires_in).toBe(600);
    expect(tokens.scope).toBe('read write');
    expect(tokens.refresh_token).toBeUndefined();

    // As a resource server: fetches jwks_uri, checks typ at+jwt, iss, aud, exp and the required claims.
    const request = new Request('https://api.example.test/thing', {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    const claims = await oauth.validateJwtAccessToken(as, request, server.issuer, insecure);
    expect(claims).toMatchObject({
      iss: server.issuer,
      sub: client.client_id,
      aud: server.issuer,
      client_id: client.client_id,
      scope: 'read write',
    });
  });

  it('introspects, revokes, and then introspects the token as inactive', async () => {
    const tokens = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(
        as,
        client,
        auth,
        new URLSearchParams({ scope: 'read' }),
        insecure,
      ),
    );
    const introspect = async () =>
      oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
      );

    expect(await introspect()).toMatchObject({ active: true, client_id: client.client_id, scope: 'read' });
    await expect(
      oauth.processRevocationResponse(
        await oauth.revocationRequest(as, client, auth, tokens.access_token, insecure),
      ),
    ).resolves.toBeUndefined();
    expect({ ...(await introspect()) }).toEqual({ active: false });
  });
});
