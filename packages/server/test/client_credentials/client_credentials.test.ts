import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { jtiOf } from '../../../../test/support/jwt.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';

describe.each(dialects)('client_credentials (%s)', (dialect) => {
  let server: TestServer;
  let clientId: string;
  let secret: string;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    const created = await server.createClient({ scopes: ['read', 'write'] });
    clientId = created.client.id;
    secret = created.secret ?? '';
  });
  afterAll(() => server.close());

  describe('200', () => {
    it('issues an RFC 9068 JWT for the service principal, verifiable with the published JWKS', async () => {
      const res = await post(
        server,
        '/oauth/token',
        { grant_type: 'client_credentials', scope: 'read' },
        {
          authorization: basic(clientId, secret),
        },
      );
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json();
      expect(body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 600,
        scope: 'read',
      });
      expect(body.refresh_token).toBeUndefined();

      const jwks = (await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
      const { payload, protectedHeader } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), {
        issuer: ISSUER,
        typ: 'at+jwt',
        currentDate: new Date(server.clock.now),
      });
      expect(protectedHeader.alg).toBe('EdDSA');
      expect(payload).toMatchObject({ sub: clientId, client_id: clientId, scope: 'read', aud: ISSUER });
      expect(Number(payload.exp) - Number(payload.iat)).toBe(600);
      expect(typeof payload.jti).toBe('string');
    });

    it('grants the whole ceiling when no scope is asked for', async () => {
      const res = await post(
        server,
        '/oauth/token',
        { grant_type: 'client_credentials' },
        {
          authorization: basic(clientId, secret),
        },
      );
      expect(res.statusCode).toBe(200);
      expect(res.json().scope).toBe('read write');
    });

    it('writes a token.issue audit record in the same commit as the response', async () => {
      const res = await post(
        server,
        '/oauth/token',
        { grant_type: 'client_credentials', scope: 'write' },
        {
          authorization: basic(clientId, secret),
        },
      );
      const jti = jtiOf(res.json().access_token);
      const rows = await server.services.db
        .selectFrom('audit_events')
        .selectAll()
        .where('event', '=', 'token.issue')
        .execute();
      expect(rows.some((r) => JSON.parse(r.detail).jti === jti)).toBe(true);
    });
  });

  describe('400', () => {
    it('CC-01: a scope beyond the ceiling is invalid_scope, not silently narrowed', async () => {
      const res = await post(
        server,
        '/oauth/token',
        { grant_type: 'client_credentials', scope: 'read admin' },
        {
          authorization: basic(clientId, secret),
        },
      );
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_scope');
    });
  });
});
