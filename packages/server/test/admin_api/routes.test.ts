/**
 * Every documented route exercised with a real administrator's token, each response checked against
 * the OpenAPI document's schema for it; the test fails if a documented route is left unexercised.
 */

import { join } from 'node:path';
import { adminKek, openServices } from '@clavis/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser, PASSWORD } from '../../../../test/support/users.js';
import { DocumentChecker } from './document_checker.js';
import { call, createAdminApiServer, type PersonToken, personToken } from './support.js';

describe.each(dialects)('every admin API route against its document (%s)', (dialect) => {
  let server: TestServer;
  let admin: PersonToken;
  let doc: DocumentChecker;
  beforeEach(async () => {
    server = await createAdminApiServer(dialect);
    admin = await personToken(server);
    const res = await call(server, 'GET', '/openapi.json');
    doc = new DocumentChecker(res.json() as Record<string, unknown>);
    doc.check('GET', '/openapi.json', res);
  });
  afterEach(() => server.close());

  /** Calls the API as the administrator and checks the answer against the document. */
  async function api(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    template: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; status?: number } = {},
  ) {
    const res = await call(server, method, path, { token: admin.accessToken, ...options });
    const body = doc.check(method, template, res);
    expect(res.statusCode, res.body).toBe(options.status ?? 200);
    return { res, body: body as Record<string, unknown> & { items?: Array<Record<string, unknown>> } };
  }

  /** GET for the ETag, then PATCH with it. */
  async function patch(template: string, path: string, changes: unknown) {
    const { res } = await api('GET', template, path);
    const etag = String(res.headers.etag);
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    return api('PATCH', template, path, { body: changes, headers: { 'if-match': etag } });
  }

  it('exercises every documented route, each answer as documented', async () => {
    const created = await api('POST', '/clients', '/clients', {
      body: {
        name: 'billing',
        kind: 'confidential',
        scopes: ['read', 'write'],
        audiences: ['https://api.test'],
      },
      status: 201,
    });
    const id = String(created.body.client_id);
    expect(created.res.headers.location).toBe(`/admin/v1/clients/${id}`);
    expect(created.body.client_secret).toMatch(/.{20,}/);
    const listed = await api('GET', '/clients', '/clients?limit=1');
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.next_cursor).toEqual(expect.any(String));
    const next = await api('GET', '/clients', `/clients?limit=1&cursor=${listed.body.next_cursor}`);
    expect(next.body.items?.[0]?.client_id).not.toBe(listed.body.items?.[0]?.client_id);
    const shown = await api('GET', '/clients/{client_id}', `/clients/${id}`);
    expect(shown.body).toEqual(
      Object.fromEntries(Object.entries(created.body).filter(([k]) => k !== 'client_secret')),
    );
    const updated = await patch('/clients/{client_id}', `/clients/${id}`, {
      name: 'billing 2',
      token_ttl_seconds: 300,
    });
    expect(updated.body).toMatchObject({ name: 'billing 2', access_token_ttl: 300 });
    const rotated = await api('POST', '/clients/{client_id}/rotate-secret', `/clients/${id}/rotate-secret`, {
      body: { grace_seconds: 60 },
    });
    expect(rotated.body.client_secret).not.toBe(created.body.client_secret);
    const secrets = await api('GET', '/clients/{client_id}/secrets', `/clients/${id}/secrets`);
    expect(secrets.body.items).toHaveLength(2);
    const oldest = String(secrets.body.items?.[0]?.id);
    const revoked = await api(
      'DELETE',
      '/clients/{client_id}/secrets/{secret_id}',
      `/clients/${id}/secrets/${oldest}`,
    );
    expect(revoked.body).toMatchObject({ client_id: id, id: oldest, state: 'revoked' });
    const disabled = await api('POST', '/clients/{client_id}/disable', `/clients/${id}/disable`);
    expect(disabled.body.disabled_at).toEqual(expect.any(String));
    const enabled = await api('POST', '/clients/{client_id}/enable', `/clients/${id}/enable`);
    expect(enabled.body.disabled_at).toBeNull();

    // Keys of this client.
    const key = await api('POST', '/keys', '/keys', {
      body: { owner: id, scopes: ['read'], ttl_seconds: 3600, name: 'ci' },
      status: 201,
    });
    const keyId = String(key.body.id);
    expect(key.body.key).toEqual(expect.any(String));
    expect((await api('GET', '/keys', `/keys?owner=${id}`)).body.items).toHaveLength(1);
    await api('GET', '/keys/{id}', `/keys/${keyId}`);
    const limited = await patch('/keys/{id}', `/keys/${keyId}`, { max_uses: 10 });
    expect(limited.body.max_uses).toBe(10);
    const successor = await api('POST', '/keys/{id}/rotate', `/keys/${keyId}/rotate`, { body: {} });
    expect(successor.body.predecessor).toMatchObject({ id: keyId });
    const gone = await api('POST', '/keys/{id}/revoke', `/keys/${String(successor.body.id)}/revoke`);
    expect(gone.body.state).toBe('revoked');

    // Federations of this client.
    const federation = await api('POST', '/federations', '/federations', {
      body: {
        client_id: id,
        preset: 'github-actions',
        audience: 'https://as.clavis.test',
        conditions: [{ claim: 'repository', pattern: 'acme/app' }],
        scopes: ['read'],
      },
      status: 201,
    });
    const fedId = String(federation.body.id);
    expect(federation.body.warnings).toEqual(expect.any(Array));
    await api('GET', '/federations', '/federations');
    await api('GET', '/federations/{id}', `/federations/${fedId}`);
    const renamed = await patch('/federations/{id}', `/federations/${fedId}`, { name: 'deploys' });
    expect(renamed.body.name).toBe('deploys');
    const tested = await api('POST', '/federations/{id}/test', `/federations/${fedId}/test`, {
      body: { token: 'not.a.token' },
    });
    expect(tested.body.pass).toBe(false);
    await api('POST', '/federations/{id}/disable', `/federations/${fedId}/disable`);
    await api('POST', '/federations/{id}/enable', `/federations/${fedId}/enable`);
    await api('DELETE', '/federations/{id}', `/federations/${fedId}`, { status: 204 });

    await api('DELETE', '/clients/{client_id}', `/clients/${id}`, { status: 204 });
    const missing = await call(server, 'GET', `/clients/${id}`, { token: admin.accessToken });
    doc.check('GET', '/clients/{client_id}', missing);
    expect(missing.statusCode).toBe(404);

    // People.
    const person = await api('POST', '/users', '/users', {
      body: { username: 'grace', totp: true },
      status: 201,
    });
    expect(person.body).toMatchObject({ username: 'grace', has_totp: true });
    expect(person.body.password).toEqual(expect.any(String));
    expect(person.body.totp_secret).toEqual(expect.any(String));
    await api('GET', '/users', '/users');
    await api('GET', '/users/{user}', '/users/grace');
    const scoped = await patch('/users/{user}', '/users/grace', { scopes: ['read'] });
    expect(scoped.body.scopes).toEqual(['read']);
    const off = await api('POST', '/users/{user}/disable', '/users/grace/disable');
    expect(off.body.revoked_families).toBe(0);
    await api('POST', '/users/{user}/enable', '/users/grace/enable');
    await api('POST', '/users/{user}/unlock', '/users/grace/unlock');
    const reset = await api('POST', '/users/{user}/reset-mfa', '/users/grace/reset-mfa');
    expect(reset.body.has_totp).toBe(false);
    const password = await api('POST', '/users/{user}/set-password', '/users/grace/set-password');
    expect(password.body).toMatchObject({ must_change_password: true, password: expect.any(String) });
    const own = await api('GET', '/users/{user}/sessions', `/users/${admin.username}/sessions`);
    expect(own.body.items).toHaveLength(1);
    const other = await createUser(server, { password: PASSWORD });
    const out = await api('DELETE', '/users/{user}/sessions', `/users/${other.username}/sessions`);
    expect(out.body).toEqual({ user: other.username, revoked_families: 0 });

    // Signing keys and the audit log.
    await api('GET', '/signing-keys', '/signing-keys?all=true');
    const replaced = await api('POST', '/signing-keys/rotate', '/signing-keys/rotate', {
      body: { now: false },
    });
    expect(replaced.body.withdraw_now).toBe(false);
    const audit = await api('GET', '/audit', '/audit?limit=5&event=client.create');
    expect(audit.body.items?.[0]).toMatchObject({
      event: 'client.create',
      actor_type: 'user',
      actor_id: admin.userId,
    });
    const exported = await call(server, 'GET', '/audit/export', { token: admin.accessToken });
    doc.check('GET', '/audit/export', exported);
    expect(exported.statusCode).toBe(200);
    const lines = exported.body.trim().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('hash');
    await server.services.audit.seal();
    const verified = await api('POST', '/audit/verify', '/audit/verify');
    expect(verified.body.ok).toBe(true);

    // Identity providers: the issuer is not contacted (it does not exist), the secret never answered.
    const idp = await api('POST', '/idps', '/idps', {
      body: {
        name: 'corp',
        issuer: 'https://idp.corp.invalid',
        client_id: 'clavis',
        client_secret: 'upstream-secret',
        scopes: ['email'],
        allowed_groups: ['staff'],
      },
      status: 201,
    });
    const idpId = String(idp.body.id);
    expect(idp.res.headers.location).toBe(`/admin/v1/idps/${idpId}`);
    expect(idp.res.body).not.toContain('upstream-secret');
    expect((await api('GET', '/idps', '/idps')).body.items).toHaveLength(1);
    await api('GET', '/idps/{id}', '/idps/corp');
    const opened = await patch('/idps/{id}', `/idps/${idpId}`, {
      allowed_groups: null,
      client_secret: 'rotated-secret',
    });
    expect(opened.body.allowed_groups).toBeNull();
    expect(opened.res.body).not.toContain('rotated-secret');
    const linked = await api('POST', '/idps/{id}/links', `/idps/${idpId}/links`, {
      body: { user: 'grace', subject: 'https://corp/sub|grace' },
      status: 201,
    });
    expect(linked.body).toMatchObject({ username: 'grace', upstream_subject: 'https://corp/sub|grace' });
    expect((await api('GET', '/idps/{id}/links', `/idps/${idpId}/links`)).body.items).toHaveLength(1);
    const stale = await api('GET', '/idps/{id}/links', `/idps/${idpId}/links?stale_days=30`);
    expect(stale.body.items).toEqual([]); // linked just now
    const unlinked = await api(
      'DELETE',
      '/idps/{id}/links/{subject}',
      `/idps/${idpId}/links/${encodeURIComponent('https://corp/sub|grace')}`,
    );
    expect(unlinked.body).toEqual({ unlinked: true, revoked_families: 0 });
    const dropped = await api('DELETE', '/idps/{id}', `/idps/${idpId}`);
    expect(dropped.body).toMatchObject({ id: idpId, name: 'corp', deleted: true, unlinked: 0 });

    // The posture report, with a threshold of the policy.
    const report = await api('GET', '/posture', '/posture?rotation_age_seconds=60&window_seconds=86400');
    expect(report.body.policy).toMatchObject({ rotation_age: '1m', window: '1d' });

    // The KEK and the secret-hashing key versions: the current version cannot be retired.
    const status = await api('GET', '/kek', '/kek');
    const hashing = status.body.hashing as Array<{ version: number; current: boolean }>;
    expect(hashing).toHaveLength(1);
    const current = await call(server, 'POST', '/kek/retire-hashes', {
      token: admin.accessToken,
      body: { version: hashing[0]?.version },
    });
    doc.check('POST', '/kek/retire-hashes', current);
    expect(current.statusCode).toBe(409);
    // After a rotation (on the database, as `kek rotate` does), a server under the new KEK retires the old.
    const services = await openServices({
      dbUrl: server.database.url,
      kekFile: join(server.database.dir, 'clavis.kek'),
      writer: 'cli',
      clock: server.clock.read,
      poolSize: 2,
    });
    try {
      await adminKek.rotateKek(services, { generate: true }, { type: 'admin', id: 'os:test' });
    } finally {
      await services.close();
    }
    const second = await createTestServer(dialect, { database: server.database, clock: server.clock });
    try {
      const after = await call(second, 'GET', '/kek', { token: admin.accessToken });
      const versions = (
        doc.check('GET', '/kek', after) as { hashing: Array<{ version: number; current: boolean }> }
      ).hashing;
      expect(versions.map((v) => v.current)).toEqual([true, false]);
      const retired = await call(second, 'POST', '/kek/retire-hashes', {
        token: admin.accessToken,
        body: { version: versions[1]?.version, revoke_remaining: true },
      });
      expect(retired.statusCode, retired.body).toBe(200);
      expect(doc.check('POST', '/kek/retire-hashes', retired)).toMatchObject({
        retired: versions[1]?.version,
      });
    } finally {
      await second.close();
    }

    expect(doc.unexercised()).toEqual([]);
  });
});
