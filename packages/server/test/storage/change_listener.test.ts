/**
 * Exact caches across instances on PostgreSQL: two app instances on one database, each with its own
 * change listener. What one commits is honoured by the other as soon as the notification arrives; while
 * an instance's listening connection is down it reads through, so it never answers from a cache that may
 * have missed a change; once it listens again, caching resumes.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, PG_BASE_URL } from '../../../../test/support/dialects.js';
import { basic, introspect, post, revoke } from '../../../../test/support/oauth.js';
import { countStatements } from '../../../../test/support/statements.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { until } from '../../../../test/support/until.js';
import * as adminClients from '../../src/admin/clients.js';
import { LISTENER_APPLICATION_NAME } from '../../src/storage/change_listener.js';

interface Registered {
  id: string;
  secret: string;
}

const onPostgres = dialects.includes('postgres');

describe.skipIf(!onPostgres)('exact caches across instances (postgres)', () => {
  let a: TestServer;
  let b: TestServer;
  let owner: Registered;
  /** B's listener first retries 1.5 s after losing its connection: long enough to act while it is down. */
  const RETRY_MS = 1500;

  beforeAll(async () => {
    a = await createTestServer('postgres');
    b = await createTestServer('postgres', {
      database: a.database,
      clock: a.clock,
      listenForChanges: { firstRetryMs: RETRY_MS },
    });
    const { client, secret } = await a.createClient({});
    owner = { id: client.id, secret: secret ?? '' };
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  async function tokenFrom(on: TestServer): Promise<string> {
    const res = await post(
      on,
      '/oauth/token',
      { grant_type: 'client_credentials' },
      {
        authorization: basic(owner.id, owner.secret),
      },
    );
    expect(res.statusCode).toBe(200);
    return res.json().access_token as string;
  }

  async function isActive(on: TestServer, token: string): Promise<boolean> {
    const res = await introspect(on, owner, token);
    expect(res.statusCode).toBe(200);
    return res.json().active as boolean;
  }

  async function terminate(applicationName: string): Promise<number> {
    const admin = new pg.Client({ connectionString: PG_BASE_URL });
    await admin.connect();
    try {
      const res = await admin.query(
        'select pg_terminate_backend(pid) as done from pg_stat_activity where application_name = $1',
        [applicationName],
      );
      return res.rowCount ?? 0;
    } finally {
      await admin.end();
    }
  }

  it('each instance holds one listening connection, named so operators can find it', async () => {
    const changes = b.services.changes;
    expect(changes?.listening).toBe(true);
    expect(changes?.applicationName.startsWith(LISTENER_APPLICATION_NAME)).toBe(true);
    const rows = await sql<{
      query: string;
    }>`select query from pg_stat_activity where application_name = ${changes?.applicationName ?? ''}`.execute(
      b.services.db,
    );
    // One connection; its last statement is the LISTEN, or the heartbeat it sends itself since.
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0]?.query).toMatch(/^(listen clavis_changes|select pg_notify\(\$1, \$2\))$/);
  });

  it('serves repeated lookups from its caches: an introspection costs no statement once warm', async () => {
    const token = await tokenFrom(a);
    expect(await isActive(b, token)).toBe(true);
    const counter = countStatements(b.services.db);
    expect(await isActive(b, token)).toBe(true);
    expect(counter.texts).toEqual([]);
  });

  it('a revocation on one instance is refused on the other within milliseconds', async () => {
    const token = await tokenFrom(a);
    expect(await isActive(b, token)).toBe(true);
    expect(await isActive(b, token)).toBe(true); // now cached on B
    expect((await revoke(a, owner, token)).statusCode).toBe(200);
    const ms = await until(async () => !(await isActive(b, token)), {
      withinMs: 2000,
      what: 'B refuses the token A revoked',
    });
    expect(ms).toBeLessThan(2000);
    // And for good.
    for (let i = 0; i < 20; i++) expect(await isActive(b, token)).toBe(false);
  });

  it('a disabled client is refused on the other instance within milliseconds', async () => {
    const { client, secret } = await a.createClient({});
    const auth = { authorization: basic(client.id, secret ?? '') };
    const token = () => post(b, '/oauth/token', { grant_type: 'client_credentials' }, auth);
    expect((await token()).statusCode).toBe(200);
    expect((await token()).statusCode).toBe(200);
    await adminClients.disableClient(
      {
        db: a.services.db,
        audit: a.services.audit,
        hasher: a.services.hasher,
        clock: a.clock.read,
        maxAccessTokenTtlSeconds: a.config.maxAccessTokenTtlSeconds,
        defaultAccessTokenTtlSeconds: a.config.defaultAccessTokenTtlSeconds,
      },
      client.id,
      { type: 'admin', id: 'test' },
    );
    await until(async () => (await token()).statusCode === 401, {
      withinMs: 2000,
      what: 'B refuses the client A disabled',
    });
  });

  it('no stale answer while its listening connection is down; caching resumes once it listens again', async () => {
    const changes = b.services.changes;
    if (!changes) throw new Error('B has no change listener');
    const token = await tokenFrom(a);
    expect(await isActive(b, token)).toBe(true);
    const states: boolean[] = [];
    changes.onState((listening) => states.push(listening));

    // Load on B: introspections back to back, each noting when it started and what it answered.
    const answers: Array<{ startedAt: number; active: boolean }> = [];
    let loading = true;
    const worker = async () => {
      while (loading) {
        const startedAt = performance.now();
        answers.push({ startedAt, active: await isActive(b, token) });
      }
    };
    const workers = [worker(), worker(), worker()];

    await until(() => answers.length >= 20, { withinMs: 10_000, what: 'load running' });
    expect(await terminate(changes.applicationName)).toBe(1);
    await until(() => states.includes(false), { withinMs: 5000, what: 'B notices its listener is gone' });
    expect(changes.current()).toBeUndefined();

    // Revoked while B cannot hear about it.
    expect((await revoke(a, owner, token)).statusCode).toBe(200);
    const committedAt = performance.now();
    // The revocation committed before B listened again, or this test proves nothing.
    expect(states).toEqual([false]);

    await until(() => states.at(-1) === true, { withinMs: RETRY_MS + 5000, what: 'B listens again' });
    const resumedAt = performance.now();
    await until(() => answers.some((x) => x.startedAt > resumedAt), { withinMs: 5000, what: 'load after' });
    loading = false;
    await Promise.all(workers);

    const after = answers.filter((x) => x.startedAt > committedAt);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((x) => x.active)).toEqual([]);
    expect(answers.some((x) => x.startedAt < committedAt && x.active)).toBe(true);

    // Caching again: a fresh token, read once, then served without a statement.
    const fresh = await tokenFrom(a);
    expect(await isActive(b, fresh)).toBe(true);
    const counter = countStatements(b.services.db);
    expect(await isActive(b, fresh)).toBe(true);
    expect(counter.texts).toEqual([]);
  });
});
