/**
 * `clavis serve` reads its shutdown settings: with CLAVIS_SHUTDOWN_DRAIN=1s, after SIGTERM it keeps
 * listening for a second while `/readyz` answers 503 `shutting_down` and requests are still served, then
 * exits 0 well within CLAVIS_SHUTDOWN_TIMEOUT.
 */
import { get } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../../test/support/free_port.js';
import { childEnv, type Scratch, scratch, startCli } from '../support/cli.js';

/** GET on a fresh connection (no pooled socket the server may just have closed). */
function fresh(url: string): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
    }).on('error', reject);
  });
}

describe('clavis serve shutdown settings', () => {
  let tmp: Scratch | undefined;
  let server: ReturnType<typeof startCli> | undefined;
  afterEach(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    tmp?.remove();
    server = tmp = undefined;
  });

  it('CLAVIS_SHUTDOWN_DRAIN=1s: readiness 503 shutting_down while still serving, then exit 0', async () => {
    tmp = scratch();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = startCli(
      ['serve', '--db', tmp.dbUrl, '--port', String(port)],
      childEnv({ CLAVIS_SHUTDOWN_DRAIN: '1s', CLAVIS_SHUTDOWN_TIMEOUT: '5s', CLAVIS_LOG_LEVEL: 'warn' }),
    );
    const deadline = Date.now() + 30_000;
    // Ready, and the banner written: until then a signal cancels the start (exit 2).
    while (
      (await fetch(`${base}/readyz`).then(
        (r) => r.status,
        () => 0,
      )) !== 200 ||
      !server.out.stderr.includes('Next steps:')
    ) {
      if (Date.now() > deadline) throw new Error(`never ready:\n${server.out.stderr}`);
      await delay(50);
    }
    const started = Date.now();
    server.child.kill('SIGTERM');
    let seen: { status: number; body: unknown } | undefined;
    while (!seen && Date.now() - started < 900) {
      const res = await fresh(`${base}/readyz`).catch(() => undefined);
      if (res?.status === 503) seen = { status: res.status, body: JSON.parse(res.body) };
      else await delay(20);
    }
    expect(seen).toEqual({ status: 503, body: { status: 'shutting_down' } });
    // Still serving while draining: discovery answers, and closes its connection.
    const meta = await fresh(`${base}/.well-known/oauth-authorization-server`);
    expect(meta.status).toBe(200);
    expect(meta.connection).toBe('close');
    const { code } = await server.exited;
    const ms = Date.now() - started;
    expect(code).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(ms).toBeLessThan(5000);
  }, 40_000);
});
