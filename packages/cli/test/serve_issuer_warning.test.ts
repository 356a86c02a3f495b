/**
 * `clavis serve` on a non-loopback address without an issuer warns at start (the default issuer is a
 * localhost URL no remote client accepts); on loopback, or with an issuer, it says nothing. A database
 * still under a previous key-encryption key is named too.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/free_port.js';
import { isLoopbackHost, issuerWarning, runServe } from '../src/commands/serve_run.js';
import { scratch, TextSink } from './support/cli.js';

describe('serve: issuer warning', () => {
  it('names loopback hosts and nothing else as loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', 'LOCALHOST'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', 'example.com', '127.0.0.1.nip.io', '', '128.0.0.1'])
      expect(isLoopbackHost(h), h).toBe(false);
  });

  it('warns for a non-loopback host without an issuer only', () => {
    expect(issuerWarning('0.0.0.0', undefined)).toMatch(
      /^warning: listening on 0\.0\.0\.0 without CLAVIS_ISSUER/,
    );
    expect(issuerWarning('::', undefined)).toMatch(/without CLAVIS_ISSUER/);
    expect(issuerWarning('0.0.0.0', 'https://auth.example.com')).toBeUndefined();
    expect(issuerWarning('127.0.0.1', undefined)).toBeUndefined();
  });

  async function serveOnce(host: string, env: Record<string, string>, tmp = scratch()): Promise<string> {
    const stderr = new TextSink();
    await runServe(
      { db: tmp.dbUrl, port: await freePort(), host },
      {
        stderr,
        env: {
          CLAVIS_KEK_FILE: join(tmp.dir, 'kek'),
          CLAVIS_ADMIN_PASSWORD: 'a long admin password 1',
          ...env,
        },
        // Stop as soon as the server has started and printed its banner.
        stopSignal: Promise.resolve('SIGTERM'),
      },
    );
    return stderr.text;
  }

  it('serve on 0.0.0.0 without CLAVIS_ISSUER prints the warning before the banner', async () => {
    const text = await serveOnce('0.0.0.0', {});
    const lines = text.split('\n');
    const warning = lines.findIndex((l) =>
      l.startsWith('warning: listening on 0.0.0.0 without CLAVIS_ISSUER'),
    );
    expect(warning).toBeGreaterThanOrEqual(0);
    expect(warning).toBeLessThan(lines.findIndex((l) => l.startsWith('Clavis is running at')));
  });

  it('serve on 0.0.0.0 with CLAVIS_ISSUER, or on loopback, prints no warning', async () => {
    expect(await serveOnce('0.0.0.0', { CLAVIS_ISSUER: 'https://auth.example.com' })).not.toContain(
      'warning:',
    );
    expect(await serveOnce('127.0.0.1', {})).not.toContain('warning:');
  });

  it('a database still under a previous KEK: serve starts and says to run kek rotate', async () => {
    const tmp = scratch();
    const A = randomBytes(32).toString('base64url');
    const B = randomBytes(32).toString('base64url');
    expect(await serveOnce('127.0.0.1', { CLAVIS_KEK: A }, tmp)).not.toContain('warning:');
    const text = await serveOnce('127.0.0.1', { CLAVIS_KEK: B, CLAVIS_KEK_PREVIOUS: A }, tmp);
    expect(text).toContain(
      'warning: the database is still sealed under a previous key-encryption key: run clavis admin kek rotate\n',
    );
  });
});
