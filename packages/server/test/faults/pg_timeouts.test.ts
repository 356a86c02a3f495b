/**
 * F-02/F-03 for the faults that do not refuse connections: a table locked by another session, and a
 * network partition that holds every byte. Requests are answered 503 `temporarily_unavailable` with
 * Retry-After within the configured storage timeouts instead of hanging for the whole fault, `/readyz`
 * answers 503 within its own short deadline, and service resumes when the fault ends.
 */
import type { LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { DbProxy } from '../../../../test/support/db_proxy.js';
import { createTestDatabase, PG_BASE_URL, type TestDatabase } from '../../../../test/support/dialects.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { READY_DEADLINE_MS } from '../../src/endpoints/health.js';

const CC = { grant_type: 'client_credentials' };

const runPg = (process.env.CLAVIS_TEST_DIALECTS ?? 'sqlite,postgres').includes('postgres');

function expectBusy(res: LightMyRequestResponse): void {
  expect(res.statusCode).toBe(503);
  expect(res.json()).toEqual({
    error: 'temporarily_unavailable',
    error_description: 'the service is busy; retry shortly',
  });
  expect(res.headers['retry-after']).toBe('1');
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work;
  return { value, ms: performance.now() - started };
}

describe.runIf(runPg)('storage that hangs (postgres)', () => {
  let server: TestServer | undefined;
  let database: TestDatabase | undefined;
  let proxy: DbProxy | undefined;
  let locker: pg.Client | undefined;
  afterEach(async () => {
    await locker?.end().catch(() => {});
    proxy?.set('pass');
    await server?.close().catch(() => {});
    await proxy?.close();
    await database?.drop();
    server = locker = proxy = database = undefined;
  });

  async function start(params: Record<string, string>, via?: DbProxy): Promise<TestServer> {
    database = await createTestDatabase('postgres');
    const url = new URL(database.url);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    if (via) url.port = String(via.port);
    server = await createTestServer('postgres', { database: { ...database, url: url.toString() } });
    return server;
  }

  it('a table locked by another session: 503 with Retry-After within lock_timeout, /readyz 503 at once; then 200', async () => {
    // The test server's pool has 5 connections; 6 requests take them all, and one waits for a slot.
    const s = await start({ lock_timeout: '1s', statement_timeout: '5s' });
    const { client, secret = '' } = await s.createClient({});
    const auth = { authorization: basic(client.id, secret) };
    expect((await post(s, '/oauth/token', CC, auth)).statusCode).toBe(200);

    locker = new pg.Client({ connectionString: PG_BASE_URL });
    await locker.connect();
    await locker.query('begin');
    const schema = new URL(s.database.url).searchParams.get('schema');
    // Clients are cached (their lookup may not touch the table); a token's audit record must be written.
    await locker.query(`lock table "${schema}".clients, "${schema}".audit_events in access exclusive mode`);

    const requests = Array.from({ length: 6 }, () => timed(post(s, '/oauth/token', CC, auth)));
    const ready = await timed(s.app.inject({ method: 'GET', url: '/readyz' }));
    expect(ready.value.statusCode).toBe(503);
    expect(ready.value.headers['retry-after']).toBe('1');
    expect(ready.ms).toBeLessThan(READY_DEADLINE_MS + 500);
    for (const { value, ms } of await Promise.all(requests)) {
      expectBusy(value);
      // Two lock timeouts at most: one waiting for the lock, one for a pool slot held by another wait.
      expect(ms).toBeLessThan(2 * 1000 + 1000);
    }

    await locker.query('rollback');
    expect((await post(s, '/oauth/token', CC, auth)).statusCode).toBe(200);
    expect((await s.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  }, 20_000);

  it('a network partition: 503 within the statement deadline, /readyz 503 within its own; then 200', async () => {
    proxy = new DbProxy();
    await proxy.open();
    const s = await start(
      { lock_timeout: '200ms', statement_timeout: '500ms', connect_timeout: '1s' },
      proxy,
    );
    const { client, secret = '' } = await s.createClient({});
    const auth = { authorization: basic(client.id, secret) };
    expect((await post(s, '/oauth/token', CC, auth)).statusCode).toBe(200);

    proxy.set('blackhole');
    const requests = Array.from({ length: 3 }, () => timed(post(s, '/oauth/token', CC, auth)));
    const ready = await timed(s.app.inject({ method: 'GET', url: '/readyz' }));
    expect(ready.value.statusCode).toBe(503);
    expect(ready.ms).toBeLessThan(READY_DEADLINE_MS + 500);
    for (const { value, ms } of await Promise.all(requests)) {
      expectBusy(value);
      // Our deadline is statement_timeout + 1 s; a request may also wait connect_timeout for a connection.
      expect(ms).toBeLessThan(500 + 1000 + 1000 + 1000);
    }

    proxy.set('pass');
    expect((await post(s, '/oauth/token', CC, auth)).statusCode).toBe(200);
    expect((await s.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  }, 20_000);
});
