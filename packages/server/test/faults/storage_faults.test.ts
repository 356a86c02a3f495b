/**
 * F-02/F-03 in miniature: when the database goes away under a running server, requests are answered
 * 503 `temporarily_unavailable` with Retry-After — never a 500, never a token without its audit
 * record — and service resumes by itself when the database is back. The outage is made with a TCP proxy
 * between the server and PostgreSQL that the test closes and reopens.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DbProxy } from '../../../../test/support/db_proxy.js';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/dialects.js';
import { jtiOf } from '../../../../test/support/jwt.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';

const CC = { grant_type: 'client_credentials' };

const runPg = (process.env.CLAVIS_TEST_DIALECTS ?? 'sqlite,postgres').includes('postgres');

describe.runIf(runPg)('storage faults (postgres)', () => {
  let server: TestServer | undefined;
  let database: TestDatabase | undefined;
  const proxy = new DbProxy();
  afterEach(async () => {
    proxy.set('pass');
    await server?.close().catch(() => {});
    await proxy.close();
    await database?.drop();
    server = undefined;
    database = undefined;
  });

  it('the database goes away: 503 with Retry-After, no token without its record; it comes back: 200', async () => {
    database = await createTestDatabase('postgres');
    await proxy.open();
    server = await createTestServer('postgres', { database: { ...database, url: proxy.via(database.url) } });
    const { client, secret = '' } = await server.createClient({});
    const auth = { authorization: basic(client.id, secret) };
    expect((await post(server, '/oauth/token', CC, auth)).statusCode).toBe(200);

    proxy.set('refuse');
    const during = await Promise.all(
      Array.from({ length: 5 }, () => post(server as TestServer, '/oauth/token', CC, auth)),
    );
    for (const res of during) {
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        error: 'temporarily_unavailable',
        error_description: 'the service is busy; retry shortly',
      });
      expect(res.headers['retry-after']).toBe('1');
    }
    const ready = await server.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);

    proxy.set('pass');
    const after = await post(server, '/oauth/token', CC, auth);
    expect(after.statusCode).toBe(200);
    expect((await server.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);

    // The token answered after the outage has its audit record; nothing was issued during it.
    await server.services.audit.drain();
    const jti = jtiOf(after.json().access_token);
    const rows = await server.services.db
      .selectFrom('audit_events')
      .select('detail')
      .where('event', '=', 'token.issue')
      .execute();
    const recorded = rows.map((r) => JSON.parse(r.detail).jti);
    expect(recorded).toContain(jti);
    expect(recorded).toHaveLength(2);
  });
});
