/**
 * An outage is logged once, when it begins, and once when it ends, with how many failures it saw: not
 * one warn line per failed request, nor one per tick of a background task (the audit seal). The database is cut with a `DbProxy` that refuses.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DbProxy } from '../../../../test/support/db_proxy.js';
import { basic } from '../../../../test/support/oauth.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';

const runPg = (process.env.CLAVIS_TEST_DIALECTS ?? 'sqlite,postgres').includes('postgres');

describe.runIf(runPg)('outage logging (postgres)', () => {
  let server: RealServer | undefined;
  const proxy = new DbProxy();
  afterEach(async () => {
    proxy.set('pass');
    await server?.close();
    await proxy.close();
    server = undefined;
  });

  it('requests and the seal fail in an outage: one warn line, one recovery line counting them', async () => {
    const lines: Array<{ level: number; msg: string; failed_requests?: number }> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    await proxy.open();
    server = await startRealServer('postgres', {
      dbUrl: (url) => proxy.via(url),
      logger: pino({ level: 'info' }, sink),
    });
    const { client, secret = '' } = await server.createClient({});
    const post = () =>
      fetch(`${server?.issuer}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: basic(client.id, secret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
    expect((await post()).status).toBe(200);

    proxy.set('refuse');
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await post()).status);
    // Past a seal tick (every 2 s): the background seal fails too, and is counted, not logged.
    const failuresBefore = server.running.storageHealth.failures;
    const tickDeadline = Date.now() + 5000;
    while (server.running.storageHealth.failures === failuresBefore && Date.now() < tickDeadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(server.running.storageHealth.failures).toBeGreaterThan(failuresBefore);
    expect(statuses.every((s) => s === 503)).toBe(true);
    const health = server.running.storageHealth;
    expect(health.down).toBe(true);
    expect(health.failures).toBeGreaterThan(20);

    proxy.set('pass');
    const end = Date.now() + 5000;
    while (health.down && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(health.down).toBe(false);
    expect((await post()).status).toBe(200);

    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings.map((l) => l.msg)).toEqual([
      'storage unavailable: answering 503 until it recovers (further failures are counted, not logged)',
    ]);
    const recovered = lines.filter((l) => l.msg === 'storage recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]?.failed_requests).toBe(health.failures);
    expect(health.outages).toBe(1);
  }, 30_000);
});
