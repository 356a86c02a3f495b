/**
 * F-02/F-03 in miniature: when the database goes away under a running server, requests are answered
 * 503 `temporarily_unavailable` with Retry-After — never a 500, never a token without its audit
 * record — and service resumes by itself when the database is back. The outage is made with a TCP proxy
 * between the server and PostgreSQL that the test closes and reopens.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, PG_BASE_URL, type TestDatabase } from '../../../../test/support/dialects.js';
import { jtiOf } from '../../../../test/support/jwt.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';

const CC = { grant_type: 'client_credentials' };

/** A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and restored. */
class CuttableProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  async open(port = 0): Promise<void> {
    const target = new URL(PG_BASE_URL);
    this.#server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.#server?.listen(port, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
  }

  async cut(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

const runPg = (process.env.CLAVIS_TEST_DIALECTS ?? 'sqlite,postgres').includes('postgres');

describe.runIf(runPg)('storage faults (postgres)', () => {
  let server: TestServer | undefined;
  let database: TestDatabase | undefined;
  const proxy = new CuttableProxy();
  afterEach(async () => {
    await server?.close().catch(() => {});
    await database?.drop();
    server = undefined;
    database = undefined;
  });

  it('the database goes away: 503 with Retry-After, no token without its record; it comes back: 200', async () => {
    database = await createTestDatabase('postgres');
    await proxy.open();
    const url = new URL(database.url);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    server = await createTestServer('postgres', { database: { ...database, url: url.toString() } });
    const { client, secret = '' } = await server.createClient({});
    const auth = { authorization: basic(client.id, secret) };
    expect((await post(server, '/oauth/token', CC, auth)).statusCode).toBe(200);

    await proxy.cut();
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

    await proxy.open(proxy.port);
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
    await proxy.cut();
  });
});
