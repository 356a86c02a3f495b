import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type BrowserContext,
  decideBrowser,
  launchCommand,
  openBrowser,
  splitWords,
} from '../src/terminal/browser.js';

const url = 'https://id.example.com/device?user_code=BCDF-GHJK';

describe('decideBrowser', () => {
  const desktop = { DISPLAY: ':0' };
  const cases: [string, BrowserContext, ReturnType<typeof decideBrowser>][] = [
    ['a Linux desktop', { env: desktop, platform: 'linux' }, { open: true }],
    ['a Wayland desktop', { env: { WAYLAND_DISPLAY: 'wayland-0' }, platform: 'linux' }, { open: true }],
    ['macOS without DISPLAY', { env: {}, platform: 'darwin' }, { open: true }],
    ['Windows without DISPLAY', { env: {}, platform: 'win32' }, { open: true }],
    [
      '--no-browser',
      { env: desktop, platform: 'linux', noBrowser: true },
      { open: false, reason: 'no_browser_flag' },
    ],
    [
      'CLAVIS_NO_BROWSER=1',
      { env: { ...desktop, CLAVIS_NO_BROWSER: '1' }, platform: 'linux' },
      { open: false, reason: 'disabled_by_env' },
    ],
    [
      'CLAVIS_NO_BROWSER=0',
      { env: { ...desktop, CLAVIS_NO_BROWSER: '0' }, platform: 'linux' },
      { open: true },
    ],
    [
      'CLAVIS_NO_BROWSER empty',
      { env: { ...desktop, CLAVIS_NO_BROWSER: '' }, platform: 'linux' },
      { open: true },
    ],
    [
      'BROWSER=none',
      { env: { ...desktop, BROWSER: 'none' }, platform: 'darwin' },
      { open: false, reason: 'disabled_by_env' },
    ],
    [
      'SSH_CONNECTION',
      { env: { ...desktop, SSH_CONNECTION: '10.0.0.2 50000 10.0.0.1 22' }, platform: 'linux' },
      { open: false, reason: 'ssh' },
    ],
    [
      'SSH_TTY on macOS',
      { env: { SSH_TTY: '/dev/ttys001' }, platform: 'darwin' },
      { open: false, reason: 'ssh' },
    ],
    [
      'SSH_CLIENT',
      { env: { ...desktop, SSH_CLIENT: '10.0.0.2 50000 22' }, platform: 'linux' },
      { open: false, reason: 'ssh' },
    ],
    [
      'SSH with a BROWSER set',
      { env: { ...desktop, BROWSER: 'firefox', SSH_TTY: '/dev/pts/1' }, platform: 'linux' },
      { open: false, reason: 'ssh' },
    ],
    ['Linux without a display', { env: {}, platform: 'linux' }, { open: false, reason: 'no_display' }],
    [
      'Linux with an empty DISPLAY',
      { env: { DISPLAY: '' }, platform: 'linux' },
      { open: false, reason: 'no_display' },
    ],
    ['FreeBSD without a display', { env: {}, platform: 'freebsd' }, { open: false, reason: 'no_display' }],
    [
      'a flag before everything',
      { env: { SSH_TTY: '/dev/pts/1' }, platform: 'linux', noBrowser: true },
      { open: false, reason: 'no_browser_flag' },
    ],
  ];
  it.each(cases)('%s', (_name, context, expected) => {
    expect(decideBrowser(context)).toEqual(expected);
  });
});

describe('launchCommand', () => {
  it('uses the platform launcher when BROWSER is unset', () => {
    expect(launchCommand(url, {}, 'linux')).toEqual({ command: 'xdg-open', args: [url] });
    expect(launchCommand(url, {}, 'darwin')).toEqual({ command: 'open', args: [url] });
    expect(launchCommand(url, {}, 'win32')).toEqual({
      command: 'rundll32',
      args: ['url.dll,FileProtocolHandler', url],
    });
  });

  it('honours BROWSER, with its arguments, quotes and a %s placeholder', () => {
    expect(launchCommand(url, { BROWSER: 'firefox' }, 'linux')).toEqual({ command: 'firefox', args: [url] });
    expect(launchCommand(url, { BROWSER: 'firefox --new-window' }, 'darwin')).toEqual({
      command: 'firefox',
      args: ['--new-window', url],
    });
    expect(launchCommand(url, { BROWSER: "'/opt/My Browser/run' --url=%s --x" }, 'linux')).toEqual({
      command: '/opt/My Browser/run',
      args: [`--url=${url}`, '--x'],
    });
  });

  it('splits words like a shell without expanding anything', () => {
    expect(splitWords(`a  "b c" 'd $HOME' e\\ f "g\\"h" "\\n" $(x) ''`)).toEqual([
      'a',
      'b c',
      'd $HOME',
      'e f',
      'g"h',
      '\\n',
      '$(x)',
      '',
    ]);
    expect(() => splitWords('"open')).toThrow('unterminated quote');
    expect(() => splitWords("'open")).toThrow('unterminated quote');
    expect(() => splitWords('open\\')).toThrow('lone backslash');
  });
});

describe('openBrowser with a real launcher', () => {
  let dir: string;
  let record: string;
  let fake: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'clavis-browser-'));
    record = join(dir, 'argv');
    fake = join(dir, 'fake-browser');
    // Records its argv (NUL-separated) and its process group, then renames the file into place at once.
    writeFileSync(
      fake,
      `#!/bin/sh\n{ for a in "$@"; do printf '%s\\0' "$a"; done; } > "${record}.tmp"\n` +
        `cut -d' ' -f5 /proc/$$/stat > "${record}.pgrp"; echo $$ > "${record}.pid"\n` +
        `mv "${record}.tmp" "${record}"\n`,
    );
    chmodSync(fake, 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function recordedArgv(): Promise<string[]> {
    const deadline = Date.now() + 10_000;
    while (!existsSync(record)) {
      if (Date.now() > deadline) throw new Error('the fake browser was not run');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return readFileSync(record, 'utf8').split('\0').slice(0, -1);
  }

  const context = (env: Record<string, string>): BrowserContext => ({
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DISPLAY: ':0', ...env },
    platform: 'linux',
  });

  it('passes the URL as one argument that no shell sees, to a detached process', async () => {
    const canary = join(dir, 'pwned');
    const hostile = `https://id.example.com/device?user_code=BCDF-GHJK&x=$(touch ${canary});touch\${IFS}${canary}|x\`id\``;
    const result = await openBrowser(hostile, context({ BROWSER: `${fake} --new-window` }));
    expect(result).toEqual({ opened: true, command: fake });
    const argv = await recordedArgv();
    expect(argv).toEqual(['--new-window', new URL(hostile).href]);
    expect(argv[1]).toContain('$(touch');
    expect(existsSync(canary)).toBe(false);
    // Detached: the launcher leads its own process group, apart from ours.
    expect(readFileSync(`${record}.pgrp`, 'utf8').trim()).toBe(readFileSync(`${record}.pid`, 'utf8').trim());
  });

  it('reports a launcher that does not exist, without throwing', async () => {
    const result = await openBrowser(url, context({ BROWSER: join(dir, 'no-such-browser') }));
    expect(result).toEqual({
      opened: false,
      reason: 'launch_failed',
      message: `${join(dir, 'no-such-browser')}: ENOENT`,
    });
  });

  it('reports a launcher that cannot be run, and a BROWSER that cannot be split', async () => {
    chmodSync(fake, 0o644);
    expect(await openBrowser(url, context({ BROWSER: fake }))).toEqual({
      opened: false,
      reason: 'launch_failed',
      message: `${fake}: EACCES`,
    });
    expect(await openBrowser(url, context({ BROWSER: `"${fake}` }))).toEqual({
      opened: false,
      reason: 'launch_failed',
      message: 'BROWSER has an unterminated quote',
    });
  });

  it('reports a launcher spawn refuses outright (a NUL byte in BROWSER), without throwing', async () => {
    const result = await openBrowser(url, context({ BROWSER: `${fake}\0x` }));
    expect(result).toMatchObject({ opened: false, reason: 'launch_failed' });
    expect(existsSync(record)).toBe(false);
  });

  it.each(['javascript:alert(1)', 'file:///etc/passwd', '--help', 'not a url', ''])(
    'opens nothing for %j',
    async (bad) => {
      const result = await openBrowser(bad, context({ BROWSER: fake }));
      expect(result).toMatchObject({ opened: false, reason: 'invalid_url' });
      expect(existsSync(record)).toBe(false);
    },
  );

  it('starts nothing when the rules say no', async () => {
    const refusals: Record<string, string>[] = [
      { SSH_TTY: '/dev/pts/3' },
      { CLAVIS_NO_BROWSER: '1' },
      { DISPLAY: '' },
    ];
    for (const env of refusals) {
      const result = await openBrowser(url, context({ BROWSER: fake, ...env }));
      expect(result.opened).toBe(false);
    }
    expect(await openBrowser(url, { ...context({ BROWSER: fake }), noBrowser: true })).toEqual({
      opened: false,
      reason: 'no_browser_flag',
    });
    expect(existsSync(record)).toBe(false);
  });
});
