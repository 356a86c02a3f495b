/**
 * Which grant a client may use and which scope it may ask for: unknown grants are
 * `unsupported_grant_type`, grants the client is not registered for are `unauthorized_client`, and a
 * scope that is malformed (a newline, a quote, a backslash, stray spaces) is `invalid_scope`.
 */
import { AdminError } from '@clavis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { basic, post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { expectOAuthError, expectToken } from '../../../../test/support/oauth_answers.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { expectClean } from './clean.js';

describe.each(dialects)('token endpoint grant and scope checks (%s)', (dialect) => {
  let server: TestServer;
  let auth: Record<string, string>;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    const created = await server.createClient({ scopes: ['read', 'write'] });
    auth = { authorization: basic(created.client.id, created.secret ?? '') };
  });
  afterAll(() => server.close());

  async function failedAuthCount(): Promise<number> {
    await server.services.audit.drain();
    const rows = await server.services.db
      .selectFrom('audit_events')
      .select('event')
      .where('event', '=', 'client.auth_failed')
      .execute();
    return rows.length;
  }

  describe('unsupported_grant_type', () => {
    it.each(
      [
        'password',
        'authorization_code',
        'implicit',
        'CLIENT_CREDENTIALS',
        'client_credentials ',
        ' client_credentials',
        'urn:ietf:params:oauth:grant-type:saml2-bearer',
        '__proto__',
        'constructor',
        'toString',
        'x'.repeat(5000),
      ].map((g) => [g.length > 60 ? `of ${g.length} characters` : JSON.stringify(g), g]),
    )('grant_type %s is unsupported_grant_type', async (_label, grantType) => {
      const res = expectClean(await post(server, TOKEN_PATH, { grant_type: grantType }, auth));
      expectOAuthError(res, 400, 'unsupported_grant_type', 'unsupported grant_type');
    });

    it('an unknown grant is refused before client authentication: no auth_failed record for a bad secret', async () => {
      const before = await failedAuthCount();
      const res = expectClean(
        await post(
          server,
          TOKEN_PATH,
          { grant_type: 'password' },
          { authorization: basic('svc_nobody', 'x') },
        ),
      );
      expectOAuthError(res, 400, 'unsupported_grant_type', 'unsupported grant_type');
      expect(await failedAuthCount()).toBe(before);
    });
  });

  describe('unauthorized_client', () => {
    it('a public client asking for client_credentials is unauthorized_client', async () => {
      const { client, secret } = await server.createClient({ kind: 'public', scopes: ['read'] });
      expect(secret).toBeUndefined();
      expect(client.grantTypes).not.toContain('client_credentials');
      const res = expectClean(
        await post(server, TOKEN_PATH, { grant_type: 'client_credentials', client_id: client.id }),
      );
      expectOAuthError(res, 400, 'unauthorized_client', 'the client may not use this grant');
    });

    it('a public client cannot even be registered for client_credentials', async () => {
      await expect(
        server.createClient({ kind: 'public', grants: ['client_credentials', 'device_code'] }),
      ).rejects.toBeInstanceOf(AdminError);
    });

    it('a confidential client not registered for client_credentials is unauthorized_client', async () => {
      const { client, secret = '' } = await server.createClient({ grants: ['token-exchange'] });
      expect(client.grantTypes).toEqual(['urn:ietf:params:oauth:grant-type:token-exchange']);
      const res = expectClean(
        await post(
          server,
          TOKEN_PATH,
          { grant_type: 'client_credentials' },
          { authorization: basic(client.id, secret) },
        ),
      );
      expectOAuthError(res, 400, 'unauthorized_client', 'the client may not use this grant');
    });

    it('a client_id alone (no authentication) for a confidential client is invalid_client, not a token', async () => {
      const { client } = await server.createClient({});
      const res = expectClean(
        await post(server, TOKEN_PATH, { grant_type: 'client_credentials', client_id: client.id }),
      );
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: 'invalid_client',
        error_description: 'client authentication failed',
      });
    });

    it('no client at all is invalid_client', async () => {
      const res = expectClean(await post(server, TOKEN_PATH, { grant_type: 'client_credentials' }));
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: 'invalid_client',
        error_description: 'client authentication is required',
      });
    });
  });

  describe('invalid_scope', () => {
    it.each([
      ['a newline', 'read\nwrite'],
      ['a CR LF', 'read\r\nwrite'],
      ['a tab', 'read\twrite'],
      ['a double quote', 'read "write"'],
      ['a backslash', 'read\\write'],
      ['DEL', 'read\u007f'],
      ['a non-ASCII letter', 'réad'],
      ['a doubled space', 'read  write'],
      ['a leading space', ' read'],
      ['a trailing space', 'read '],
    ])('a scope with %s is invalid_scope', async (_name, scope) => {
      const res = expectClean(
        await post(server, TOKEN_PATH, { grant_type: 'client_credentials', scope }, auth),
      );
      expectOAuthError(res, 400, 'invalid_scope', 'scope is malformed');
    });

    it('a scope with a single quote is well-formed but outside the ceiling: invalid_scope naming it', async () => {
      const res = expectClean(
        await post(server, TOKEN_PATH, { grant_type: 'client_credentials', scope: "read'" }, auth),
      );
      expectOAuthError(res, 400, 'invalid_scope', "scope not allowed for this client: read'");
    });

    it('a scope of only spaces is invalid_scope', async () => {
      const res = expectClean(
        await post(server, TOKEN_PATH, { grant_type: 'client_credentials', scope: ' ' }, auth),
      );
      expectOAuthError(res, 400, 'invalid_scope', 'scope is malformed');
    });

    it('a repeated scope token is granted once', async () => {
      expectToken(
        await post(server, TOKEN_PATH, { grant_type: 'client_credentials', scope: 'read read' }, auth),
        'read',
      );
    });

    it('a scope over 2048 characters (under the body limit) is invalid_request', async () => {
      const scope = Array.from({ length: 700 }, () => 'read').join(' ');
      expect(scope.length).toBeGreaterThan(2048);
      const res = expectClean(
        await post(server, TOKEN_PATH, { grant_type: 'client_credentials', scope }, auth),
      );
      expectOAuthError(res, 400, 'invalid_request', 'scope is too long');
    });

    it('a 1 MB scope is 413 invalid_request', async () => {
      const scope = 's'.repeat(1024 * 1024);
      const res = expectClean(
        await post(server, TOKEN_PATH, { grant_type: 'client_credentials', scope }, auth),
      );
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'request body too large' });
    });
  });
});
