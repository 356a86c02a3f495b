/**
 * `clavis login` in a real terminal (tmux): the one-time code, a QR code that decodes to the link, the
 * browser opened on Enter (a fake BROWSER records it), the spinner, approval in Chromium, then `whoami`
 * and `token`; Ctrl-C while waiting; no browser with `--no-browser` or over SSH.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, NODE, spawnCli } from './support/cli.js';
import {
  chromiumAvailable,
  type Home,
  home,
  LINK,
  launchChromium,
  Person,
  startTestServer,
  type TestServer,
} from './support/people.js';
import { darkTheme, decode, lightTheme, paint } from './support/terminal_image.js';
import { TmuxSession } from './support/tmux.js';

describe.runIf(chromiumAvailable())('clavis login at a terminal', { timeout: 120_000 }, () => {
  let browser: Browser;
  let server: TestServer;
  const homes: Home[] = [];
  const sessions: TmuxSession[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    server = await startTestServer();
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.kill()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    for (const h of homes) h.remove();
  });

  /** A home with a fake browser launcher that records the URL it is asked to open. */
  function withFakeBrowser(extra: Record<string, string> = {}) {
    const h = home();
    homes.push(h);
    const calls = join(h.dir, 'browser-calls.txt');
    const script = join(h.dir, 'fake-browser.sh');
    writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${calls}'\n`, { mode: 0o755 });
    return { h, calls, env: { ...h.env, DISPLAY: ':99', BROWSER: script, ...extra } };
  }

  async function login(env: Record<string, string>, argv: string[] = []): Promise<TmuxSession> {
    const session = await TmuxSession.start({
      command: [NODE, BIN, 'login', '--server', server.issuer, ...argv],
      env,
      width: 120,
      height: 60,
    });
    sessions.push(session);
    return session;
  }

  it('shows the code and a QR code of the link, opens the browser on Enter, and logs in', async () => {
    const { h, calls, env } = withFakeBrowser();
    const session = await login(env);
    const screen = await session.waitForText('in your browser…', 20_000);
    expect(screen).toMatch(/^! First copy your one-time code: [A-Z]{4}-[A-Z]{4}$/m);
    const link = screen.match(LINK)?.[1] as string;
    expect(link).toContain(`${server.issuer}/device?user_code=`);

    // The QR code, read off the cells as drawn, as a phone would on a dark and on a light terminal.
    const cells = await session.capture({ cells: true });
    // The code's rows: blocks, or (its quiet zone) only blanks in the colours it sets.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping terminal escape sequences.
    const blank = (line: string) => line.includes('107') && line.replace(/\x1b\[[0-9;]*m/g, '').trim() === '';
    const qr = cells
      .split('\n')
      .filter((line) => /[█▀▄]/.test(line) || blank(line))
      .join('\n');
    expect(decode(paint(`${qr}\n`, darkTheme))).toBe(link);
    expect(decode(paint(`${qr}\n`, lightTheme))).toBe(link);

    await session.waitForText('Waiting for approval…');
    expect(existsSync(calls)).toBe(false); // not before Enter
    await session.sendKeys('Enter');
    await expect
      .poll(() => (existsSync(calls) ? readFileSync(calls, 'utf8') : ''), { timeout: 10_000 })
      .toBe(`${link}\n`);

    const person = new Person('terminal1', (await server.createUser('terminal1')).totpSecret);
    await person.approve(browser, link);
    await session.waitForText(`Logged in to ${server.issuer} as terminal1`, 20_000);
    expect(await session.waitForExit()).toEqual({ status: 0, signal: undefined });

    const whoami = await spawnCli(['whoami', '--json'], h.env);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ username: 'terminal1', source: 'login' });
    const token = await spawnCli(['token'], h.env);
    expect(token.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('Ctrl-C while polling cancels: exit 2 and one clean line', async () => {
    const { env } = withFakeBrowser();
    const session = await login(env);
    await session.waitForText('Waiting for approval…', 20_000);
    await session.sendKeys('C-c');
    expect(await session.waitForExit()).toEqual({ status: 2, signal: undefined });
    const screen = await session.capture();
    const shown = screen.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('Pane is dead'));
    expect(shown.at(-1)).toBe('clavis: cancelled');
    expect(screen).not.toMatch(/\bat \S+:\d+/);
  });

  it.each([
    { name: '--no-browser', argv: ['--no-browser'], extra: {} as Record<string, string> },
    { name: 'over SSH', argv: [], extra: { SSH_CONNECTION: '10.0.0.1 50000 10.0.0.2 22' } },
  ])('$name: no browser is offered or launched, the link is shown', async ({ argv, extra }) => {
    const { calls, env } = withFakeBrowser(extra);
    const session = await login(env, argv);
    const screen = await session.waitForText('Waiting for approval…', 20_000);
    expect(screen).toMatch(/Scan the QR code or open this link in a browser: http:\/\/\S+user_code=/);
    expect(screen).not.toContain('Press Enter');
    await session.sendKeys('Enter');
    await session.sendKeys('C-c');
    expect(await session.waitForExit()).toEqual({ status: 2, signal: undefined });
    expect(existsSync(calls)).toBe(false);
  });
});
