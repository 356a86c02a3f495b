/**
 * The terminal pieces on a real terminal (a tmux pane), from the built dist as the CLI will load them.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { darkTheme, decode, lightTheme, paint } from './support/terminal_image.js';
import { TmuxSession } from './support/tmux.js';

const dist = resolve(import.meta.dirname, '../dist/terminal');
const sessions: TmuxSession[] = [];

beforeAll(() => {
  if (!existsSync(dist)) throw new Error('build first (npm run build): these tests run the built dist');
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((session) => session.kill()));
});

async function runModule(source: string): Promise<TmuxSession> {
  const session = await TmuxSession.start({
    command: [process.execPath, '--input-type=module', '-e', source],
    width: 120,
    height: 40,
  });
  sessions.push(session);
  return session;
}

describe('on a real terminal', () => {
  it('the spinner animates, and on Ctrl-C stops on a clean line, leaving nothing to keep the process alive', async () => {
    const session = await runModule(`
      import { startSpinner } from ${JSON.stringify(`${dist}/spinner.js`)};
      const spinner = startSpinner(process.stderr, 'Waiting for approval…', { intervalMs: 50 });
      process.once('SIGINT', () => {
        spinner.stop('Cancelled.');
        const timers = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
        process.stderr.write('timers=' + timers + '\\n');
        process.exitCode = 2;
        // Stay until Enter, so the screen can be read before the pane closes.
        process.stdin.once('data', () => process.stdin.destroy());
      });
    `);
    const first = await session.waitForText(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for approval…$/m);
    // It moves: another frame replaces the first in place, on the same line.
    const frame = first.charAt(0);
    await session.waitForText(new RegExp(`^(?!${frame})[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for approval…$`));
    await session.sendKeys('C-c');
    const screen = await session.waitForText('timers=');
    expect(screen).toMatch(/^(\^C)?Cancelled\.\ntimers=0$/);
    await session.sendKeys('Enter');
    // Exiting on its own, once stdin is let go, proves nothing else holds the event loop.
    expect(await session.waitForExit()).toEqual({ status: 2, signal: undefined });
  });

  it('the QR code, as the terminal draws it, reads back as the URL on dark and light themes', async () => {
    const url = 'https://id.example.com/device?user_code=BCDF-GHJK';
    const session = await runModule(`
      import { renderQrCode } from ${JSON.stringify(`${dist}/qr.js`)};
      process.stdout.write(renderQrCode(${JSON.stringify(url)}));
      process.stdout.write('done\\n');
      setInterval(() => {}, 1000);
    `);
    await session.waitForText('done');
    const screen = await session.capture({ cells: true });
    // The whole screen down to the line before `done`: the code, and the terminal's own background around.
    const lines = screen.split('\n');
    const text = lines
      .slice(
        0,
        lines.findIndex((line) => line.includes('done')),
      )
      .join('\n');
    expect(text).toContain('▀');
    expect(decode(paint(text, darkTheme))).toBe(url);
    expect(decode(paint(text, lightTheme))).toBe(url);
  });
});
