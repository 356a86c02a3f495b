/**
 * `clavis admin posture --html FILE` opened in real Chromium with scripts off: the page renders from
 * the file alone (no request leaves it), shows the score, the chart of credentials by kind and age, and
 * every finding with its fix.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../../test/support/browser.js';
import { initDatabase, runCli, type Scratch, scratch } from './support/cli.js';

describe.runIf(chromiumAvailable() || process.env.CI === 'true')(
  'admin posture --html in Chromium',
  { timeout: 60_000 },
  () => {
    let tmp: Scratch;
    let browser: Browser;
    const admin = (...args: string[]) => runCli(['admin', '--db', tmp.dbUrl, ...args]);

    beforeAll(async () => {
      tmp = scratch();
      await initDatabase(tmp.dbUrl);
      const client = await admin(
        'clients',
        'create',
        '--name',
        'deployer <b>',
        '--kind',
        'confidential',
        '--grant',
        'client_credentials',
        '--scope',
        'read',
        '--json',
      );
      const svc = (JSON.parse(client.stdout) as { client_id: string }).client_id;
      for (const ttl of ['1d', '30d']) {
        const key = await admin('keys', 'create', '--owner', svc, '--scope', 'read', '--ttl', ttl);
        expect(key.code, key.stderr).toBe(0);
      }
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
      tmp.remove();
    });

    it('renders self-contained: score, chart, findings with fixes, no request made', async () => {
      const file = join(tmp.dir, 'posture.html');
      const res = await admin('posture', '--html', file);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(new RegExp(`^report written: ${file} \\(score \\d+/100, 6 findings\\)\\n$`));
      const text = readFileSync(file, 'utf8');
      expect(text).not.toMatch(/<script|<link|src=|url\(|@import/i);
      // The client's name is escaped, never markup.
      expect(text).toContain('deployer &lt;b&gt;');

      const context = await browser.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      await page.goto(pathToFileURL(file).href);
      expect(requests).toEqual([pathToFileURL(file).href]);

      expect(await page.title()).toBe('Clavis posture report');
      expect(await page.locator('#score').textContent()).toMatch(/^\d+\s*score out of 100$/);
      const chart = page.getByRole('img', { name: 'Live credentials by kind and age' });
      expect(await chart.isVisible()).toBe(true);
      // Two API keys, one client secret: bars drawn for them, with their counts.
      expect(await chart.locator('rect title').allTextContents()).toEqual(
        expect.arrayContaining(['API keys, < 7d: 2', 'Client secrets, < 7d: 1']),
      );
      const rows = page.locator('table tbody tr');
      expect(await rows.count()).toBe(6);
      const first = await rows.first().textContent();
      expect(first).toContain('medium');
      expect(await page.locator('table').textContent()).toContain('clavis admin keys update');
      expect(await page.locator('table').textContent()).toContain('api-key-near-expiry');
      await context.close();
    });
  },
);
