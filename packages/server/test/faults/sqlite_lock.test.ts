/**
 * Another process holding SQLite's write lock (an admin command, a backup, a script) does not freeze
 * the server: node:sqlite waits for locks synchronously, so the server waits for it in short attempts
 * with asynchronous backoff. Liveness answers in milliseconds meanwhile, and writes are served once the
 * lock is released (or answered 503 when it is held longer than the wait allows), never 500.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { basic } from '../../../../test/support/oauth.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';

/** A second process that takes the write lock, says so, holds it `ms`, and commits. */
function holdWriteLock(file: string, ms: number) {
  const code = `
    const { DatabaseSync } = require('node:sqlite');
    const db = new DatabaseSync(process.argv[1], { timeout: 10000 });
    db.exec('BEGIN IMMEDIATE');
    db.exec("insert into settings(key, value) values ('lock-test', 'x') on conflict(key) do nothing");
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); process.stdout.write('released\\n'); db.close(); }, Number(process.argv[2]));
  `;
  const child = spawn(process.execPath, ['-e', code, file, String(ms)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit');
  const said = (word: string) =>
    new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes(word)) resolve(performance.now());
      });
      void exited.then(() => reject(new Error(`the lock holder exited before "${word}": ${stderr}`)));
    });
  const locked = said('locked');
  const released = said('released');
  released.catch(() => {});
  return { child, locked, released, exited };
}

describe('SQLite write lock held by another process', () => {
  let server: RealServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('/healthz answers within 200 ms throughout; writes are served after the lock, none fails with 500', async () => {
    server = await startRealServer('sqlite');
    const { client, secret = '' } = await server.createClient({});
    const post = async () => {
      const res = await fetch(`${server?.issuer}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: basic(client.id, secret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      await res.arrayBuffer();
      return { status: res.status, at: performance.now(), retryAfter: res.headers.get('retry-after') };
    };
    expect((await post()).status).toBe(200);

    const file = server.database.url.slice('sqlite:'.length);
    const holder = holdWriteLock(file, 2500);
    await holder.locked;
    const tokens = [post(), post(), post()];
    const latencies: number[] = [];
    let releasedAt: number | undefined;
    holder.released.then(
      (t) => {
        releasedAt = t;
      },
      () => {
        releasedAt = Number.NaN;
      },
    );
    while (releasedAt === undefined) {
      const started = performance.now();
      const res = await fetch(`${server.issuer}/healthz`);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      latencies.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const t of await Promise.all(tokens)) {
      expect(t.status).toBe(200);
      // Served once the lock was released, not before.
      expect(t.at).toBeGreaterThanOrEqual(releasedAt);
    }
    if (process.env.CLAVIS_FAULTS_REPORT)
      console.log(`healthz max ${Math.max(...latencies).toFixed(1)} ms over ${latencies.length}`);
    expect(latencies.length).toBeGreaterThan(10);
    expect(Math.max(...latencies)).toBeLessThan(200);
    await holder.exited;
  }, 20_000);

  it('held longer than the wait allows: 503 with Retry-After, then 200 once released', async () => {
    server = await startRealServer('sqlite');
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
    const file = server.database.url.slice('sqlite:'.length);
    const holder = holdWriteLock(file, 7000);
    await holder.locked;
    const started = performance.now();
    const refused = await post();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' });
    // The lock wait is 5 s (a loaded machine adds to it).
    expect(performance.now() - started).toBeLessThan(8000);
    await holder.released;
    expect((await post()).status).toBe(200);
    await holder.exited;
  }, 20_000);
});
