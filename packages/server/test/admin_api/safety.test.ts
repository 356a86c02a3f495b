/**
 * The admin API's guards on what callers send: idempotent creates (replay, reuse with another body,
 * the stored response sealed and forgotten after 24 hours), If-Match on updates, bounded and closed
 * bodies, malformed JSON, pagination limits, per-caller rate limits — each answered with its problem.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import type { TestServer } from '../../../../test/support/test_server.js';
import { purgeUpdateLocks } from '../../src/admin_api/etag.js';
import { purgeIdempotencyKeys } from '../../src/admin_api/idempotency.js';
import { call, createAdminApiServer, type PersonToken, personToken, serviceToken } from './support.js';

const PROBLEM = 'urn:clavis:problem:';

function expectProblem(res: LightMyRequestResponse, status: number, slug: string, detail?: string | RegExp) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json() as Record<string, unknown>;
  expect(body).toMatchObject({ type: `${PROBLEM}${slug}`, status });
  if (detail !== undefined) expect(body.detail).toMatch(detail);
}

describe.each(dialects)('admin API safety (%s)', (dialect) => {
  let server: TestServer;
  let admin: PersonToken;
  beforeEach(async () => {
    server = await createAdminApiServer(dialect);
    admin = await personToken(server);
  });
  afterEach(() => server.close());

  const as = (options: Parameters<typeof call>[3] = {}) => ({ token: admin.accessToken, ...options });
  const newClient = { name: 'billing', kind: 'confidential', scopes: ['read'] };

  describe('Idempotency-Key', () => {
    it('the same key and body replay the first answer, secret included, to the same caller only', async () => {
      const headers = { 'idempotency-key': 'create-billing-1' };
      const first = await call(server, 'POST', '/clients', as({ body: newClient, headers }));
      expect(first.statusCode, first.body).toBe(201);
      const again = await call(
        server,
        'POST',
        '/clients',
        as({ body: { scopes: ['read'], kind: 'confidential', name: 'billing' }, headers }),
      );
      expect(again.statusCode).toBe(201);
      expect(again.json()).toEqual(first.json());
      expect(again.headers.location).toBe(first.headers.location);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(await auditRecords(server, 'client.create')).toHaveLength(1);
      // Stored sealed: the one-time secret is not in the table in plaintext.
      const rows = await server.services.db.selectFrom('idempotency_keys').selectAll().execute();
      expect(rows).toHaveLength(1);
      const secret = String((first.json() as { client_secret: string }).client_secret);
      expect(rows[0]?.response).not.toContain(secret);
      expect(rows[0]?.response).toMatch(/^v1\./);
      // Another caller's same key is its own: a new client.
      const svc = await serviceToken(server);
      const other = await call(server, 'POST', '/clients', {
        token: svc.accessToken,
        body: newClient,
        headers,
      });
      expect(other.statusCode).toBe(201);
      expect(other.json().client_id).not.toBe(first.json().client_id);
    });

    it('the same key with another body: 422 idempotency-key-reused, nothing created', async () => {
      const headers = { 'idempotency-key': 'k-2' };
      expect((await call(server, 'POST', '/clients', as({ body: newClient, headers }))).statusCode).toBe(201);
      const res = await call(
        server,
        'POST',
        '/clients',
        as({ body: { ...newClient, name: 'other' }, headers }),
      );
      expectProblem(res, 422, 'idempotency-key-reused');
      expect(await auditRecords(server, 'client.create')).toHaveLength(1);
    });

    it('concurrent requests with one key create once', async () => {
      const headers = { 'idempotency-key': 'k-race' };
      const answers = await Promise.all(
        Array.from({ length: 4 }, () => call(server, 'POST', '/clients', as({ body: newClient, headers }))),
      );
      for (const a of answers) expect([201, 409]).toContain(a.statusCode);
      expect(answers.filter((a) => a.statusCode === 201).length).toBeGreaterThanOrEqual(1);
      const created = new Set(answers.filter((a) => a.statusCode === 201).map((a) => a.json().client_id));
      expect(created.size).toBe(1);
      expect(await auditRecords(server, 'client.create')).toHaveLength(1);
    });

    it('a refused create frees its key; a stored answer is forgotten after 24 hours', async () => {
      const headers = { 'idempotency-key': 'k-3' };
      const bad = await call(
        server,
        'POST',
        '/clients',
        as({ body: { ...newClient, scopes: ['not a scope'] }, headers }),
      );
      expectProblem(bad, 400, 'invalid-request', 'scope "not a scope" is not a valid scope token');
      expect(await server.services.db.selectFrom('idempotency_keys').selectAll().execute()).toHaveLength(0);
      const first = await call(server, 'POST', '/clients', as({ body: newClient, headers }));
      expect(first.statusCode).toBe(201);
      server.clock.advance(24 * 3600_000 + 1);
      await purgeIdempotencyKeys(server.services.db, server.clock.now);
      expect(await server.services.db.selectFrom('idempotency_keys').selectAll().execute()).toHaveLength(0);
    });

    it('a malformed key: 400', async () => {
      const res = await call(
        server,
        'POST',
        '/clients',
        as({ body: newClient, headers: { 'idempotency-key': 'a b' } }),
      );
      expectProblem(res, 400, 'invalid-request', /idempotency-key/i);
    });
  });

  describe('If-Match', () => {
    it('missing: 428; stale: 412; current: 200 with the new ETag', async () => {
      const { client } = await server.createClient({ name: 'ops' });
      const path = `/clients/${client.id}`;
      expectProblem(
        await call(server, 'PATCH', path, as({ body: { name: 'x' } })),
        428,
        'precondition-required',
      );
      const read = await call(server, 'GET', path, as());
      const etag = String(read.headers.etag);
      const changed = await call(
        server,
        'PATCH',
        path,
        as({ body: { name: 'ops 2' }, headers: { 'if-match': etag } }),
      );
      expect(changed.statusCode, changed.body).toBe(200);
      expect(changed.headers.etag).not.toBe(etag);
      const stale = await call(
        server,
        'PATCH',
        path,
        as({ body: { name: 'ops 3' }, headers: { 'if-match': etag } }),
      );
      expectProblem(stale, 412, 'precondition-failed');
      expect((await call(server, 'GET', path, as())).json().name).toBe('ops 2');
    });
  });

  it("an update's ETag is the resource's as read now: a person with a passkey can be changed twice in a row", async () => {
    // A person's read shows their passkeys; the update answers the person alone. The tag must still be
    // the read's, or sending it back as the next If-Match would fail.
    await server.services.db
      .insertInto('webauthn_credentials')
      .values({
        id: 'cred-1',
        user_id: admin.userId,
        public_key: 'pk',
        counter: 0,
        transports: '[]',
        device_type: 'singleDevice',
        name: 'laptop',
        created_at: server.clock.now,
        last_used_at: null,
        disabled_at: null,
        disabled_reason: null,
      })
      .execute();
    const path = `/users/${admin.userId}`;
    const read = await call(server, 'GET', path, as());
    expect((read.json() as { passkeys: unknown[] }).passkeys).toHaveLength(1);
    const first = await call(
      server,
      'PATCH',
      path,
      as({ body: { scopes: ['a'] }, headers: { 'if-match': String(read.headers.etag) } }),
    );
    expect(first.statusCode, first.body).toBe(200);
    expect(first.headers.etag).toBe((await call(server, 'GET', path, as())).headers.etag);
    const second = await call(
      server,
      'PATCH',
      path,
      as({ body: { scopes: ['b'] }, headers: { 'if-match': String(first.headers.etag) } }),
    );
    expect(second.statusCode, second.body).toBe(200);
    expect((second.json() as { scopes: string[] }).scopes).toEqual(['b']);
  });

  describe('If-Match under concurrent updates', () => {
    it('updates made from one version: exactly one passes, the others are 409 or 412', async () => {
      const { client } = await server.createClient({ name: 'ops' });
      const path = `/clients/${client.id}`;
      const etag = String((await call(server, 'GET', path, as())).headers.etag);
      const answers = await Promise.all(
        ['a', 'b', 'c', 'd'].map((n) =>
          call(server, 'PATCH', path, as({ body: { name: `ops ${n}` }, headers: { 'if-match': etag } })),
        ),
      );
      const passed = answers.filter((a) => a.statusCode === 200);
      expect(passed).toHaveLength(1);
      for (const a of answers) expect([200, 409, 412]).toContain(a.statusCode);
      expect((await call(server, 'GET', path, as())).json().name).toBe(passed[0]?.json().name);
      expect(await auditRecords(server, 'client.update')).toHaveLength(1);
    });

    it('a lock its holder never released (a crash) lapses after 30 s, and is purged', async () => {
      const { client } = await server.createClient({ name: 'ops' });
      const path = `/clients/${client.id}`;
      await server.services.db
        .insertInto('admin_update_locks')
        .values({ resource: `/clients/:client_id#${client.id}`, expires_at: server.clock.now + 30_000 })
        .execute();
      const etag = String((await call(server, 'GET', path, as())).headers.etag);
      const patch = () =>
        call(server, 'PATCH', path, as({ body: { name: 'x' }, headers: { 'if-match': etag } }));
      expectProblem(await patch(), 409, 'conflict', /in progress/);
      server.clock.advance(30_000);
      expect((await patch()).statusCode).toBe(200);
      await server.services.db
        .insertInto('admin_update_locks')
        .values({ resource: 'elsewhere', expires_at: server.clock.now })
        .execute();
      await purgeUpdateLocks(server.services.db, server.clock.now);
      expect(await server.services.db.selectFrom('admin_update_locks').selectAll().execute()).toEqual([]);
    });

    it('a person addressed by username and by id is one resource', async () => {
      const etag = String((await call(server, 'GET', `/users/${admin.username}`, as())).headers.etag);
      const answers = await Promise.all([
        call(
          server,
          'PATCH',
          `/users/${admin.username}`,
          as({ body: { scopes: ['a'] }, headers: { 'if-match': etag } }),
        ),
        call(
          server,
          'PATCH',
          `/users/${admin.userId}`,
          as({ body: { scopes: ['b'] }, headers: { 'if-match': etag } }),
        ),
      ]);
      expect(answers.filter((a) => a.statusCode === 200)).toHaveLength(1);
    });
  });

  describe('bodies', () => {
    it('oversized: 413 payload-too-large', async () => {
      const res = await call(
        server,
        'POST',
        '/clients',
        as({ body: { ...newClient, owner: 'x'.repeat(70_000) } }),
      );
      expectProblem(res, 413, 'payload-too-large');
    });

    it('malformed JSON: 400', async () => {
      const res = await call(
        server,
        'POST',
        '/clients',
        as({ payload: '{"name": "x",', headers: { 'content-type': 'application/json' } }),
      );
      expectProblem(res, 400, 'invalid-request', 'the body is not valid JSON');
    });

    it('prototype keys anywhere in the body: 400', async () => {
      const payload = '{"name":"x","kind":"confidential","jwks":{"__proto__":{"admin":true}}}';
      const res = await call(
        server,
        'POST',
        '/clients',
        as({ payload, headers: { 'content-type': 'application/json' } }),
      );
      expectProblem(res, 400, 'invalid-request', 'the body must not hold a "__proto__" key');
    });

    it('unknown fields: 400 naming the field', async () => {
      const res = await call(server, 'POST', '/clients', as({ body: { ...newClient, colour: 'blue' } }));
      expectProblem(res, 400, 'invalid-request', /must NOT have additional properties \(colour\)/);
      expect(await auditRecords(server, 'client.create')).toHaveLength(0);
    });

    it('wrong types are not coerced: 400', async () => {
      const res = await call(
        server,
        'POST',
        '/clients',
        as({ body: { ...newClient, token_ttl_seconds: '300' } }),
      );
      expectProblem(res, 400, 'invalid-request', /token_ttl_seconds must be integer/);
    });

    it('another content type: 415', async () => {
      const res = await call(
        server,
        'POST',
        '/clients',
        as({ payload: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      );
      expectProblem(res, 415, 'unsupported-media-type');
    });

    it("a use case's refusal is the CLI's line; a conflict is 409; an unknown thing 404", async () => {
      const res = await call(
        server,
        'POST',
        '/clients',
        as({ body: { name: 'p', kind: 'public', grants: ['client_credentials'] } }),
      );
      expectProblem(res, 400, 'invalid-request', 'client_credentials needs a confidential client');
      const { client } = await server.createClient({ name: 'twice' });
      expect((await call(server, 'POST', `/clients/${client.id}/disable`, as())).statusCode).toBe(200);
      expectProblem(
        await call(server, 'POST', `/clients/${client.id}/disable`, as()),
        409,
        'conflict',
        'already disabled',
      );
      expectProblem(
        await call(server, 'GET', '/clients/svc_nothere', as()),
        404,
        'not-found',
        'no client svc_nothere',
      );
      expectProblem(await call(server, 'GET', '/nothing', as()), 404, 'not-found');
    });
  });

  describe('identity providers, posture, kek: bad input', () => {
    const idp = {
      name: 'corp',
      issuer: 'https://idp.corp.invalid',
      client_id: 'clavis',
      client_secret: 'upstream-secret',
    };

    it('an idp create without a secret, with an oversized one, or a bad issuer: 400, nothing stored', async () => {
      const { client_secret: _, ...noSecret } = idp;
      expectProblem(
        await call(server, 'POST', '/idps', as({ body: noSecret })),
        400,
        'invalid-request',
        /client_secret/,
      );
      expectProblem(
        await call(server, 'POST', '/idps', as({ body: { ...idp, client_secret: 'x'.repeat(1025) } })),
        400,
        'invalid-request',
        /client_secret must NOT have more than 1024 characters/,
      );
      const plain = await call(server, 'POST', '/idps', as({ body: { ...idp, issuer: 'http://idp.corp' } }));
      expectProblem(plain, 400, 'invalid-request');
      expect(plain.body).not.toContain('upstream-secret');
      expectProblem(
        await call(server, 'POST', '/idps', as({ body: { ...idp, allowed_groups: 'staff' } })),
        400,
        'invalid-request',
        /allowed_groups must be array,null/,
      );
      expect((await call(server, 'GET', '/idps', as())).json()).toEqual({ items: [], next_cursor: null });
      // A refusal is audited without the secret.
      const refused = await auditRecords(server, 'idp.create');
      expect(refused.map((r) => r.outcome)).toEqual(['failure']);
      expect(JSON.stringify(refused)).not.toContain('upstream-secret');
    });

    it('an idp create replayed with its key answers the same, creating once; a second name is 409', async () => {
      const key = { 'idempotency-key': 'idp-create-1' };
      const first = await call(server, 'POST', '/idps', as({ body: idp, headers: key }));
      expect(first.statusCode, first.body).toBe(201);
      const again = await call(server, 'POST', '/idps', as({ body: idp, headers: key }));
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.json()).toEqual(first.json());
      expectProblem(await call(server, 'POST', '/idps', as({ body: idp })), 409, 'conflict');
    });

    it('an idp update without If-Match: 428; links of a stale_days out of range: 400; unknown: 404', async () => {
      const created = await call(server, 'POST', '/idps', as({ body: idp }));
      const id = String((created.json() as { id: string }).id);
      expectProblem(
        await call(server, 'PATCH', `/idps/${id}`, as({ body: { name: 'corp2' } })),
        428,
        'precondition-required',
      );
      expectProblem(
        await call(server, 'GET', `/idps/${id}/links?stale_days=0`, as()),
        400,
        'invalid-request',
      );
      expectProblem(await call(server, 'GET', '/idps/idp_nothere', as()), 404, 'not-found');
      expectProblem(await call(server, 'DELETE', `/idps/${id}/links/nobody`, as()), 404, 'not-found');
    });

    it('posture thresholds that are not whole seconds or unknown: 400; kek versions that are not: 400', async () => {
      for (const query of ['rotation_age_seconds=-1', 'unused_seconds=soon', 'colour=blue']) {
        expectProblem(await call(server, 'GET', `/posture?${query}`, as()), 400, 'invalid-request');
      }
      for (const body of [{ version: -1 }, { version: '0' }, {}, { version: 0, now: true }]) {
        expectProblem(await call(server, 'POST', '/kek/retire-hashes', as({ body })), 400, 'invalid-request');
      }
      expect(await auditRecords(server, 'kek.retire_hashes')).toHaveLength(0);
    });
  });

  describe('BI-01: SQL metacharacters', () => {
    it('in filters and identifiers are data: nothing matches, nothing changes', async () => {
      const evil = encodeURIComponent("' OR 1=1--");
      const audit = await call(server, 'GET', `/audit?actor=${evil}&event=${evil}&client_id=${evil}`, as());
      expect(audit.statusCode, audit.body).toBe(200);
      expect(audit.json()).toEqual({ items: [], next_cursor: null });
      expectProblem(await call(server, 'GET', `/clients/${evil}`, as()), 404, 'not-found');
      expectProblem(await call(server, 'DELETE', `/federations/${evil}`, as()), 404, 'not-found');
      expect((await call(server, 'GET', '/clients', as())).json().items.length).toBeGreaterThan(0);
    });
  });

  describe('pagination', () => {
    it('limit is 1 to 1000; a cursor not ours is 400', async () => {
      expectProblem(
        await call(server, 'GET', '/clients?limit=1001', as()),
        400,
        'invalid-request',
        /limit must be <= 1000/,
      );
      expectProblem(await call(server, 'GET', '/clients?limit=0', as()), 400, 'invalid-request');
      expectProblem(await call(server, 'GET', '/clients?cursor=zzz', as()), 400, 'invalid-request', /cursor/);
      expectProblem(await call(server, 'GET', '/audit?cursor=zzz', as()), 400, 'invalid-request', /cursor/);
      const all = await call(server, 'GET', '/clients', as());
      expect(all.json()).toMatchObject({ next_cursor: null });
    });

    it('the audit log pages with its own cursor; a time that is not one is 400', async () => {
      const first = (await call(server, 'GET', '/audit?limit=2', as())).json() as {
        items: Array<{ hash: string }>;
        next_cursor: string;
      };
      expect(first.items).toHaveLength(2);
      const second = (
        await call(server, 'GET', `/audit?limit=2&cursor=${first.next_cursor}`, as())
      ).json() as {
        items: Array<{ hash: string }>;
      };
      expect(second.items.map((r) => r.hash)).not.toContain(first.items[0]?.hash);
      expectProblem(
        await call(server, 'GET', '/audit?since=yesterday', as()),
        400,
        'invalid-request',
        /since/,
      );
      expectProblem(await call(server, 'GET', '/audit?outcome=maybe', as()), 400, 'invalid-request');
    });
  });
});

describe.each(dialects)('admin API rate limit (%s)', (dialect) => {
  let server: TestServer;
  afterEach(() => server.close());

  it('a caller over its budget gets 429 rate-limited with Retry-After, recorded', async () => {
    server = await createAdminApiServer(dialect, { adminCallsPerMinute: 3 });
    const admin = await personToken(server);
    for (let i = 0; i < 3; i++)
      expect((await call(server, 'GET', '/users', { token: admin.accessToken })).statusCode).toBe(200);
    const res = await call(server, 'GET', '/users', { token: admin.accessToken });
    expectProblem(res, 429, 'rate-limited');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    await server.failures.flush();
    expect((await auditRecords(server, 'admin_api.refuse')).at(-1)).toMatchObject({
      detail: { reason: 'rate_limited' },
    });
    server.clock.advance(60_000);
    expect((await call(server, 'GET', '/users', { token: admin.accessToken })).statusCode).toBe(200);
  });
});
