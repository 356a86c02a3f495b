/**
 * Shutdown under load: readiness says `shutting_down` first while requests are still served (each
 * answer closing its connection), idle keep-alive sockets close, then the listener closes; a request
 * that arrives after that is answered 503 `temporarily_unavailable` (RFC 6749 §5.2, Retry-After,
 * no-store, the security headers), never the framework's own body; requests in flight are answered; the
 * audit segment is sealed. With the database partitioned, shutdown ends at its deadline, answers the
 * requests stuck in flight 503, and the segment is sealed once the database answers again.
 */
import { connect } from 'node:net';
import { openDatabase, verifyAuditLog } from '@clavis/server';
import { afterEach, describe, expect, it } from 'vitest';
import { DbProxy } from '../../../../test/support/db_proxy.js';
import { dialects } from '../../../../test/support/dialects.js';
import { basic } from '../../../../test/support/oauth.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';
import { formPost, get, RawConnection } from './raw_http.js';

const CC = { grant_type: 'client_credentials' };

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

async function untilRefused(port: number, withinMs: number): Promise<void> {
  const end = Date.now() + withinMs;
  while (!(await refused(port))) {
    if (Date.now() > end) throw new Error('the listener did not close');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function verifyAfterClose(server: RealServer) {
  const opened = await openDatabase(server.database.url, { migrate: false });
  try {
    return await verifyAuditLog(opened.db, server.running.services.auditKey);
  } finally {
    await opened.close();
  }
}

describe.each(dialects)('shutdown (%s)', (dialect) => {
  let server: RealServer | undefined;
  const proxy = new DbProxy();
  afterEach(async () => {
    proxy.set('pass');
    await server?.running.close().catch(() => {});
    await server?.database.drop();
    await proxy.close();
    server = undefined;
  });

  it('drains: readiness 503 first, idle sockets closed, late requests an OAuth 503, in-flight answered, audit sealed', async () => {
    server = await startRealServer(dialect, { shutdown: { shutdownDrainMs: 300 } });
    const port = Number(new URL(server.issuer).port);
    const { client, secret = '' } = await server.createClient({});
    const token = formPost('/oauth/token', CC, { authorization: basic(client.id, secret) });

    const idle = await RawConnection.open(port);
    idle.write(token);
    expect((await idle.response())?.status).toBe(200);
    // In flight: its headers are in, its body not all.
    const inFlight = await RawConnection.open(port);
    inFlight.write(token.slice(0, -4));
    // Begun: part of the headers only, so the request itself arrives during shutdown.
    const late = await Promise.all([1, 2, 3].map(() => RawConnection.open(port)));
    const [lateToken, lateReady, lateHealth] = late as [RawConnection, RawConnection, RawConnection];
    lateToken.write(token.slice(0, 20));
    lateReady.write(get('/readyz').slice(0, 10));
    lateHealth.write(get('/healthz').slice(0, 10));
    await new Promise((r) => setTimeout(r, 50));

    const started = performance.now();
    const closing = server.running.close();
    await idle.whenClosed();
    // Draining: a new connection is still served; readiness says shutting down; answers close.
    const probe = await RawConnection.open(port);
    probe.write(get('/readyz'));
    const ready = await probe.response();
    expect(ready?.status).toBe(503);
    expect(JSON.parse(ready?.body ?? '')).toEqual({ status: 'shutting_down' });
    expect(ready?.headers['retry-after']).toBe('1');
    const served = await RawConnection.open(port);
    served.write(token);
    const servedAnswer = await served.response();
    expect(servedAnswer?.status).toBe(200);
    expect(servedAnswer?.headers.connection).toBe('close');
    await served.whenClosed();

    await untilRefused(port, 2000);
    lateToken.write(token.slice(20));
    lateReady.write(get('/readyz').slice(10));
    lateHealth.write(get('/healthz').slice(10));
    const refusedToken = await lateToken.response();
    expect(refusedToken?.status).toBe(503);
    expect(JSON.parse(refusedToken?.body ?? '')).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the server is shutting down; retry shortly',
    });
    expect(refusedToken?.headers).toMatchObject({
      'retry-after': '1',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      connection: 'close',
    });
    expect(refusedToken?.headers['content-type']).toMatch(/^application\/json/);
    expect((await lateReady.response())?.status).toBe(503);
    expect((await lateHealth.response())?.status).toBe(200);

    inFlight.write(token.slice(-4));
    const answered = await inFlight.response();
    expect(answered?.status).toBe(200);
    expect(JSON.parse(answered?.body ?? '{}')).toHaveProperty('access_token');
    expect(answered?.headers.connection).toBe('close');

    await closing;
    const ms = performance.now() - started;
    if (process.env.CLAVIS_FAULTS_REPORT)
      console.log(`${dialect}: drain (300 ms) and close took ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(3000);
    const verified = await verifyAfterClose(server);
    expect(verified).toMatchObject({ ok: true, unsealed: 0 });
    for (const c of [idle, inFlight, ...late, probe, served]) c.destroy();
  }, 20_000);

  it.runIf(dialect === 'postgres')(
    'the database partitioned: shutdown ends at its deadline, stuck requests answered 503, audit sealed once it is back',
    async () => {
      await proxy.open();
      server = await startRealServer(dialect, {
        // Storage's own timeouts far beyond the deadline: only the deadline can end this shutdown.
        dbUrl: (url) => {
          const u = new URL(proxy.via(url));
          u.searchParams.set('statement_timeout', '60s');
          return u.toString();
        },
        shutdown: { shutdownTimeoutMs: 1000 },
      });
      const { client, secret = '' } = await server.createClient({});
      const post = () =>
        fetch(`${server?.issuer}/oauth/token`, {
          method: 'POST',
          headers: {
            authorization: basic(client.id, secret),
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams(CC),
        });
      expect((await post()).status).toBe(200);
      const segment = server.running.services.audit.segment;

      proxy.set('blackhole');
      const stuck = [post(), post(), post()];
      await new Promise((r) => setTimeout(r, 200));
      const started = performance.now();
      await server.running.close();
      const ms = performance.now() - started;
      if (process.env.CLAVIS_FAULTS_REPORT) console.log(`partitioned: close() took ${ms.toFixed(0)} ms`);
      expect(ms).toBeGreaterThanOrEqual(950);
      expect(ms).toBeLessThan(2000);
      for (const res of await Promise.all(stuck)) {
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
      }

      // The abandoned close goes on: once the database answers, the segment is sealed.
      proxy.set('pass');
      const opened = await openDatabase(server.database.url, { migrate: false });
      try {
        const end = Date.now() + 10_000;
        let sealed = false;
        while (!sealed && Date.now() < end) {
          const head = await opened.db
            .selectFrom('audit_events')
            .select((eb) => eb.fn.max('seq').as('seq'))
            .where('segment', '=', segment)
            .executeTakeFirst();
          const seal = await opened.db
            .selectFrom('audit_seals')
            .select((eb) => eb.fn.max('segment_seq').as('seq'))
            .where('segment', '=', segment)
            .executeTakeFirst();
          sealed = head?.seq != null && Number(seal?.seq) === Number(head.seq);
          if (!sealed) await new Promise((r) => setTimeout(r, 100));
        }
        expect(sealed).toBe(true);
        expect(await verifyAuditLog(opened.db, server.running.services.auditKey)).toMatchObject({ ok: true });
      } finally {
        await opened.close();
      }
    },
    30_000,
  );
});
