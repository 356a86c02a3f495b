/**
 * Two processes using the same stored login at once, its access token about to expire: the refresh
 * lock lets exactly one refresh; the other re-reads the store under the lock and takes the new token.
 * The server sees one refresh and no reuse (RT-02), so the refresh-token family stays alive.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type DeviceCode, LoginStore } from '@clavis/sdk';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../../test/support/browser.js';
import { Person } from '../../../test/support/device_approval.js';
import { startTestServer, type TestServer } from '../../../test/support/listening_server.js';
import { headless, type Scratch, scratch } from './support/env.js';

const script = fileURLToPath(new URL('./fixtures/get_token.mjs', import.meta.url));
const builtSdk = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function run(
  issuer: string,
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, issuer], {
      env: env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe.runIf(chromiumAvailable() || process.env.CI === 'true')(
  'two processes refreshing one login',
  { timeout: 90_000 },
  () => {
    let browser: Browser;
    let server: TestServer;
    let s: Scratch;

    beforeAll(async () => {
      if (!existsSync(builtSdk)) throw new Error('packages/sdk/dist is missing: run `npm run build` first');
      browser = await launchChromium();
      server = await startTestServer();
      s = await scratch();
    });

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      await s?.cleanup();
    });

    it('exactly one refresh request, no reuse detected, the family alive', async () => {
      const person = new Person('lin', (await server.createUser('lin')).totpSecret);
      const client = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env: s.env,
        context: headless,
        keychain: null,
        warn: () => {},
      });
      await client.login({
        onCode: (code: DeviceCode) => void person.approve(browser, code.verificationUriComplete),
      });

      // The stored access token now has five seconds left: both processes will want to refresh it.
      const file = join(s.env.XDG_CONFIG_HOME as string, 'clavis', 'credentials.json');
      const entries = JSON.parse(await readFile(file, 'utf8')) as Record<
        string,
        { expiresAt: number; obtainedAt: number; accessToken: string }
      >;
      const stale = new Set<string>();
      for (const entry of Object.values(entries)) {
        entry.expiresAt = Date.now() + 5_000;
        entry.obtainedAt = entry.expiresAt - 600_000;
        stale.add(createHash('sha256').update(entry.accessToken).digest('hex'));
      }
      await writeFile(file, JSON.stringify(entries));
      const before = (await server.audit('token.refresh')).length;

      const env = { ...s.env, PATH: process.env.PATH };
      const [a, b] = await Promise.all([run(server.issuer, env), run(server.issuer, env)]);
      expect(a.code, a.out).toBe(0);
      expect(b.code, b.out).toBe(0);
      const first = JSON.parse(a.out) as { source: string; hash: string };
      const second = JSON.parse(b.out) as { source: string; hash: string };
      expect(first.source).toBe('login');
      expect(stale.has(first.hash)).toBe(false);
      // The second process found the first one's new token in the store.
      expect(second.hash).toBe(first.hash);

      expect((await server.audit('token.refresh')).length - before).toBe(1);
      expect(await server.audit('token.refresh_reuse')).toEqual([]);

      // The family is alive: its current refresh token still refreshes.
      const stored = await new LoginStore({ env: s.env, keychain: null }).load(server.issuer, 'clavis-cli');
      const response = await fetch(`${server.issuer}/oauth/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: stored?.login.refreshToken ?? '',
          client_id: 'clavis-cli',
        }),
      });
      expect(response.status).toBe(200);
    });
  },
);
