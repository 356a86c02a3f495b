/**
 * The database unreachable mid-load, through a `DbProxy` between a listening server and PostgreSQL:
 * refused (RST) and partitioned (blackholed). Every answer during the fault is 200 or 503
 * `temporarily_unavailable` with Retry-After — never a 500, never a hang past the storage deadlines —
 * `/readyz` says 503 within its own deadline, and service comes back by itself when the database does.
 * Every token a client received has its audit record.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { auditRecords, verifyChain } from '../../../../test/support/audit.js';
import { DbProxy, type ProxyMode } from '../../../../test/support/db_proxy.js';
import { jtiOf } from '../../../../test/support/jwt.js';
import { basic } from '../../../../test/support/oauth.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';
import { READY_DEADLINE_MS } from '../../src/endpoints/health.js';

const runPg = (process.env.CLAVIS_TEST_DIALECTS ?? 'sqlite,postgres').includes('postgres');

interface Outcome {
  status: number;
  ms: number;
  retryAfter: string | null;
  error?: string;
}

describe.runIf(runPg)('database unreachable mid-load (postgres)', () => {
  let server: RealServer | undefined;
  const proxy = new DbProxy();
  afterEach(async () => {
    proxy.set('pass');
    await server?.close();
    await proxy.close();
    server = undefined;
  });

  it.each<ProxyMode>(['refuse', 'blackhole'])(
    '%s: 200 or 503 with Retry-After, no 500, no hang; back to 200 when it returns',
    async (mode) => {
      await proxy.open();
      server = await startRealServer('postgres', {
        dbUrl: (url) => {
          const u = new URL(proxy.via(url));
          u.searchParams.set('lock_timeout', '300ms');
          u.searchParams.set('statement_timeout', '700ms');
          u.searchParams.set('connect_timeout', '1s');
          return u.toString();
        },
      });
      const { client, secret = '' } = await server.createClient({});
      const issuer = server.issuer;
      const received = new Set<string>();
      const during: Outcome[] = [];
      let faulty = false;
      let running = true;
      const worker = async () => {
        while (running) {
          const started = performance.now();
          const inFault = faulty;
          try {
            const res = await fetch(`${issuer}/oauth/token`, {
              method: 'POST',
              headers: {
                authorization: basic(client.id, secret),
                'content-type': 'application/x-www-form-urlencoded',
              },
              body: 'grant_type=client_credentials',
            });
            const json = (await res.json()) as { access_token?: string; error?: string };
            if (json.access_token) received.add(jtiOf(json.access_token));
            const outcome: Outcome = {
              status: res.status,
              ms: performance.now() - started,
              retryAfter: res.headers.get('retry-after'),
              ...(json.error ? { error: json.error } : {}),
            };
            if (inFault || faulty) during.push(outcome);
            if (res.status === 503) await delay(20);
          } catch (err) {
            during.push({ status: 0, ms: performance.now() - started, retryAfter: null, error: String(err) });
          }
        }
      };
      const workers = Array.from({ length: 8 }, () => worker());
      await delay(300);
      faulty = true;
      proxy.set(mode);
      const readyStarted = performance.now();
      const ready = await fetch(`${issuer}/readyz`);
      const readyMs = performance.now() - readyStarted;
      await delay(2500);
      proxy.set('pass');
      faulty = false;
      const restored = performance.now();
      let firstOk: number | undefined;
      while (firstOk === undefined && performance.now() - restored < 10_000) {
        const res = await fetch(`${issuer}/oauth/token`, {
          method: 'POST',
          headers: {
            authorization: basic(client.id, secret),
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials',
        });
        const json = (await res.json()) as { access_token?: string };
        if (json.access_token) received.add(jtiOf(json.access_token));
        if (res.status === 200) firstOk = performance.now() - restored;
        else await delay(50);
      }
      running = false;
      await Promise.all(workers);

      expect(ready.status).toBe(503);
      expect(readyMs).toBeLessThan(READY_DEADLINE_MS + 500);
      const refused = during.filter((o) => o.status !== 200);
      expect(refused.length).toBeGreaterThan(0);
      for (const o of refused) {
        expect(o).toMatchObject({ status: 503, retryAfter: '1', error: 'temporarily_unavailable' });
      }
      // No hang: the statement deadline (0.7 s + 1 s), a connection wait (1 s), and slack.
      expect(Math.max(...during.map((o) => o.ms))).toBeLessThan(4000);
      expect(firstOk).toBeDefined();
      if (process.env.CLAVIS_FAULTS_REPORT) {
        console.log(
          `${mode}: ${during.length} requests in the fault, ${refused.length} 503, longest ${Math.max(...during.map((o) => o.ms)).toFixed(0)} ms, /readyz ${readyMs.toFixed(0)} ms, first 200 ${firstOk?.toFixed(0)} ms after restore`,
        );
      }

      const records = new Set(
        (await auditRecords(server.running, 'token.issue')).map((r) => r.detail.jti as string),
      );
      expect([...received].filter((jti) => !records.has(jti))).toEqual([]);
      expect(await verifyChain(server.running)).toMatchObject({ ok: true });
    },
    30_000,
  );
});
