/**
 * Who may call the admin API, with real tokens of this server: a person who is an administrator and
 * signed in with a second factor (recently, for destructive calls), or a client granted `admin`. Every
 * other token is refused with its problem type, and every call — allowed or refused — is audited with
 * the caller, its address and the token's `jti`.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { b64url, jtiOf, jwtClaims, jwtHeader } from '../../../../test/support/jwt.js';
import { post } from '../../../../test/support/oauth.js';
import type { TestServer } from '../../../../test/support/test_server.js';
import { CLI_CLIENT_ID } from '../../src/clients/client.js';
import { issueAccessToken } from '../../src/tokens/access_token.js';
import { call, createAdminApiServer, personToken, serviceToken } from './support.js';

const PROBLEM = 'urn:clavis:problem:';

describe.each(dialects)('admin API authorization (%s)', (dialect) => {
  let server: TestServer;
  beforeEach(async () => {
    server = await createAdminApiServer(dialect);
  });
  afterEach(() => server.close());

  function expectProblem(res: LightMyRequestResponse, status: number, slug: string) {
    expect(res.statusCode, res.body).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ type: `${PROBLEM}${slug}`, status });
  }

  async function refusals() {
    await server.failures.flush();
    return auditRecords(server, 'admin_api.refuse');
  }

  it('an administrator signed in with a second factor may call it; the call is audited with its jti and address', async () => {
    const admin = await personToken(server);
    expect(admin.scope).toContain('admin');
    const res = await call(server, 'GET', '/users', { token: admin.accessToken });
    expect(res.statusCode, res.body).toBe(200);
    const calls = await auditRecords(server, 'admin_api.call');
    expect(calls.at(-1)).toMatchObject({
      outcome: 'success',
      actor_type: 'user',
      actor_id: admin.userId,
      client_id: CLI_CLIENT_ID,
      ip: '198.51.100.7',
      detail: { operation: 'listUsers', method: 'GET', jti: jtiOf(admin.accessToken) },
    });
  });

  it('no token: 401 with the bare Bearer challenge, audited', async () => {
    const res = await call(server, 'GET', '/clients');
    expectProblem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="clavis"');
    expect((await refusals()).at(-1)).toMatchObject({
      outcome: 'failure',
      ip: '198.51.100.7',
      detail: { operation: 'listClients', reason: 'invalid_token' },
    });
  });

  it('an expired token: 401', async () => {
    const admin = await personToken(server);
    server.clock.advance(601_000);
    const res = await call(server, 'GET', '/clients', { token: admin.accessToken });
    expectProblem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect((await refusals()).length).toBeGreaterThan(0);
  });

  it('a revoked token: 401', async () => {
    const admin = await personToken(server);
    const revoked = await post(server, '/oauth/revoke', {
      token: admin.accessToken,
      client_id: CLI_CLIENT_ID,
    });
    expect(revoked.statusCode).toBe(200);
    expectProblem(await call(server, 'GET', '/clients', { token: admin.accessToken }), 401, 'unauthorized');
    expect((await refusals()).length).toBeGreaterThan(0);
  });

  it('a token for another audience: 401', async () => {
    const svc = await serviceToken(server, ['admin'], ['https://api.elsewhere.test']);
    expect(jwtClaims(svc.accessToken).aud).toBe('https://api.elsewhere.test');
    const res = await call(server, 'GET', '/clients', { token: svc.accessToken });
    expectProblem(res, 401, 'unauthorized');
    expect(res.json().detail).toBe('the access token is not for this server');
    expect((await refusals()).length).toBeGreaterThan(0);
  });

  it('a token signed by another key: 401', async () => {
    const admin = await personToken(server);
    const { privateKey } = generateKeyPairSync('ed25519');
    const header = jwtHeader(admin.accessToken);
    const body = `${b64url({ ...header, alg: 'EdDSA' })}.${b64url(jwtClaims(admin.accessToken))}`;
    const { sign } = await import('node:crypto');
    const forged = `${body}.${sign(null, Buffer.from(body), privateKey).toString('base64url')}`;
    expectProblem(await call(server, 'GET', '/clients', { token: forged }), 401, 'unauthorized');
    expect((await refusals()).at(-1)).toMatchObject({ detail: { reason: 'invalid_token' } });
  });

  it('a token without admin: 403 naming the scope, audited', async () => {
    const admin = await personToken(server, { scope: 'openid profile' });
    expect(admin.scope).not.toContain('admin');
    const res = await call(server, 'GET', '/clients', { token: admin.accessToken });
    expectProblem(res, 403, 'forbidden');
    expect(res.headers['www-authenticate']).toContain('scope="admin"');
    expect((await refusals()).at(-1)).toMatchObject({ detail: { reason: 'insufficient_scope' } });
  });

  it('a person who is not an administrator (any more): 403, audited with the jti', async () => {
    const admin = await personToken(server);
    await server.services.db
      .updateTable('users')
      .set({ is_admin: 0 })
      .where('id', '=', admin.userId)
      .execute();
    const res = await call(server, 'GET', '/clients', { token: admin.accessToken });
    expectProblem(res, 403, 'forbidden');
    expect(res.json().detail).toBe('you are not an administrator');
    expect((await refusals()).at(-1)).toMatchObject({
      actor_type: 'user',
      actor_id: admin.userId,
      detail: { reason: 'not_admin', jti: jtiOf(admin.accessToken) },
    });
  });

  it('a sign-in older than 15 minutes: reads pass, destructive calls get reauthentication-required', async () => {
    const admin = await personToken(server);
    server.clock.advance(16 * 60_000);
    // The refreshed token carries the same sign-in (its family's auth_time).
    const refreshed = await post(server, '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: admin.refreshToken,
      client_id: CLI_CLIENT_ID,
    });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const token = (refreshed.json() as { access_token: string }).access_token;
    expect((await call(server, 'GET', '/clients', { token })).statusCode).toBe(200);
    const { client } = await server.createClient({ name: 'victim' });
    const res = await call(server, 'DELETE', `/clients/${client.id}`, { token });
    expectProblem(res, 403, 'reauthentication-required');
    expect((await refusals()).at(-1)).toMatchObject({
      detail: { operation: 'deleteClient', reason: 'stale_sign_in', jti: jtiOf(token) },
    });
    // A change that is not destructive is still allowed.
    expect((await call(server, 'POST', `/clients/${client.id}/enable`, { token })).statusCode).toBe(409);
  });

  it('identity providers: deleting one needs a recent sign-in and admin; refused calls leave it, audited', async () => {
    const fresh = await personToken(server);
    const created = await call(server, 'POST', '/idps', {
      token: fresh.accessToken,
      body: {
        name: 'corp',
        issuer: 'https://idp.corp.invalid',
        client_id: 'clavis',
        client_secret: 'upstream-secret',
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = String((created.json() as { id: string }).id);
    server.clock.advance(16 * 60_000);
    const refreshed = await post(server, '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: fresh.refreshToken,
      client_id: CLI_CLIENT_ID,
    });
    const token = (refreshed.json() as { access_token: string }).access_token;
    expectProblem(await call(server, 'DELETE', `/idps/${id}`, { token }), 403, 'reauthentication-required');
    expectProblem(
      await call(server, 'DELETE', `/idps/${id}/links/someone`, { token }),
      403,
      'reauthentication-required',
    );
    expect((await refusals()).at(-1)).toMatchObject({
      detail: { operation: 'unlinkIdp', reason: 'stale_sign_in', jti: jtiOf(token) },
    });
    const plain = await serviceToken(server, ['read']);
    expectProblem(
      await call(server, 'DELETE', `/idps/${id}`, { token: plain.accessToken }),
      403,
      'forbidden',
    );
    expectProblem(await call(server, 'DELETE', `/idps/${id}`), 401, 'unauthorized');
    // Still there, and never its secret; a recent sign-in deletes it.
    const shown = await call(server, 'GET', `/idps/${id}`, { token });
    expect(shown.statusCode).toBe(200);
    expect(shown.body).not.toContain('upstream-secret');
    expect(await auditRecords(server, 'idp.delete')).toHaveLength(0);
    const recent = await personToken(server);
    const deleted = await call(server, 'DELETE', `/idps/${id}`, { token: recent.accessToken });
    expect(deleted.statusCode, deleted.body).toBe(200);
    expect((await auditRecords(server, 'idp.delete')).at(-1)).toMatchObject({
      actor_type: 'user',
      actor_id: recent.userId,
    });
  });

  it("a disabled person's token: 401", async () => {
    const admin = await personToken(server);
    await server.services.db
      .updateTable('users')
      .set({ disabled_at: server.clock.now })
      .where('id', '=', admin.userId)
      .execute();
    expectProblem(await call(server, 'GET', '/clients', { token: admin.accessToken }), 401, 'unauthorized');
    expect((await refusals()).length).toBeGreaterThan(0);
  });

  it('a client granted admin may call it, destructive calls included; one not granted may not', async () => {
    const svc = await serviceToken(server, ['admin']);
    const { client } = await server.createClient({ name: 'victim' });
    const res = await call(server, 'DELETE', `/clients/${client.id}`, { token: svc.accessToken });
    expect(res.statusCode, res.body).toBe(204);
    const deleted = (await auditRecords(server, 'client.delete')).at(-1);
    expect(deleted).toMatchObject({ actor_type: 'client', actor_id: svc.clientId, ip: '198.51.100.7' });
    // The grant withdrawn: its live token no longer works.
    await server.services.db
      .updateTable('clients')
      .set({ scopes: JSON.stringify(['read']) })
      .where('id', '=', svc.clientId)
      .execute();
    expectProblem(await call(server, 'GET', '/clients', { token: svc.accessToken }), 403, 'forbidden');
    const plain = await serviceToken(server, ['read']);
    expectProblem(await call(server, 'GET', '/clients', { token: plain.accessToken }), 403, 'forbidden');
  });

  it('a key-bound (cnf) token is refused: this server issues none, so its proof cannot be checked', async () => {
    const admin = await personToken(server);
    // No grant of this server issues a key-bound token; one is signed here with the server's own key.
    const claims = jwtClaims(admin.accessToken);
    const { token } = await issueAccessToken(server.services.keys, {
      issuer: String(claims.iss),
      subject: String(claims.sub),
      audience: String(claims.aud),
      clientId: CLI_CLIENT_ID,
      scopes: ['admin'],
      ttlSeconds: 300,
      now: server.clock.now,
      extra: { cnf: { jkt: 'x'.repeat(43) } },
    });
    const res = await call(server, 'GET', '/clients', { token });
    expectProblem(res, 401, 'unauthorized');
    expect(res.json().detail).toContain('sender-constrained');
    expect((await refusals()).at(-1)).toMatchObject({ detail: { reason: 'key_bound_token' } });
  });
});
