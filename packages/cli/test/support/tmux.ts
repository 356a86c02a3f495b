/**
 * A real terminal for tests: a command run in a tmux pane on a private tmux server (its own socket and an
 * empty config, nothing shared with a user's tmux), read with `capture-pane`, driven with `send-keys`.
 * Waits poll the pane against a deadline; nothing sleeps for a fixed time.
 *
 * tmux 3.3 does not always record a dead pane's exit status, so the program runs under a small Node
 * parent in the pane that writes how it ended to a file. A process that prints and exits at once may lose
 * its last output to tmux: keep the program alive until the test has read what it needs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The pane's parent: runs argv[3…] on the pane's terminal (same process group, so Ctrl-C reaches it),
 * survives SIGINT/SIGTERM itself (a handler, not an ignore, which the child would inherit), and writes
 * `{ status, signal }` to argv[2] once the child has ended. A hangup (the tmux server killed) is passed
 * on to the child: as the session leader it alone receives it, and a child that never heard of it would
 * outlive the test.
 */
const reaper = `
const { spawn } = require('node:child_process');
const { writeFileSync, renameSync } = require('node:fs');
const [file, command, ...args] = process.argv.slice(2);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {});
const child = spawn(command, args, { stdio: 'inherit' });
process.on('SIGHUP', () => child.kill('SIGHUP'));
const done = (status, signal) => {
  writeFileSync(file + '.tmp', JSON.stringify({ status, signal }));
  renameSync(file + '.tmp', file);
  process.exit(0);
};
child.on('error', (error) => done(127, null));
child.on('exit', (status, signal) => done(status, signal));
`;

export interface TmuxOptions {
  /** The program and its arguments, run directly (no shell). */
  command: readonly string[];
  /** The environment of the program (tmux adds TERM, TMUX and TMUX_PANE); PATH is taken from ours if absent. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  width?: number;
  height?: number;
}

export interface PaneExit {
  /** Exit status, when the program exited. */
  status: number | undefined;
  /** The signal's name, when a signal ended it. */
  signal: NodeJS.Signals | undefined;
}

export class TmuxSession {
  private killed = false;

  private constructor(
    private readonly dir: string,
    private readonly env: Readonly<Record<string, string>>,
  ) {}

  /** Starts COMMAND in a detached session of a new private tmux server. */
  static async start(options: TmuxOptions): Promise<TmuxSession> {
    const dir = mkdtempSync(join(tmpdir(), 'clavis-tmux-'));
    // The pane stays (dead) after the program exits so its screen and exit status can still be read; no
    // status bar, so the pane is the whole window.
    writeFileSync(join(dir, 'tmux.conf'), 'set -g remain-on-exit on\nset -g status off\n');
    writeFileSync(join(dir, 'reaper.cjs'), reaper);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env };
    const session = new TmuxSession(dir, env);
    try {
      await session.tmux(
        'new-session',
        '-d',
        '-s',
        'test',
        '-x',
        String(options.width ?? 100),
        '-y',
        String(options.height ?? 30),
        '-c',
        options.cwd ?? process.cwd(),
        '--',
        process.execPath,
        join(dir, 'reaper.cjs'),
        join(dir, 'exit.json'),
        ...options.command,
      );
    } catch (error) {
      await session.kill();
      throw error;
    }
    return session;
  }

  /**
   * The visible screen as text, trailing blanks dropped. With `cells`, every cell as drawn instead: colours
   * and attributes as SGR sequences (emitted where they change, so state carries over from line to line)
   * and trailing blanks kept (`capture-pane -e -N`).
   */
  async capture(options: { cells?: boolean } = {}): Promise<string> {
    const { stdout } = await this.tmux(
      'capture-pane',
      '-p',
      ...(options.cells ? ['-e', '-N'] : []),
      '-t',
      'test',
    );
    return options.cells ? stdout : stdout.replace(/\s+$/, '');
  }

  /** Sends tmux key names, e.g. `C-c`, `Enter`, `Up`. */
  async sendKeys(...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', 'test', ...keys);
  }

  /** Types TEXT literally (no key-name lookup). */
  async type(text: string): Promise<void> {
    await this.tmux('send-keys', '-t', 'test', '-l', '--', text);
  }

  /** Polls the pane until PATTERN shows, and returns the screen; fails with the last screen at the deadline. */
  async waitForText(pattern: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const found = (screen: string) =>
      typeof pattern === 'string' ? screen.includes(pattern) : pattern.test(screen);
    let screen = '';
    const seen = async (): Promise<boolean> => {
      screen = await this.capture();
      return found(screen);
    };
    await this.poll(
      timeoutMs,
      seen,
      () => `${String(pattern)} did not show within ${timeoutMs} ms; the pane shows:\n${screen}`,
    );
    return screen;
  }

  /** Polls until the program has exited, and says how. */
  async waitForExit(timeoutMs = 10_000): Promise<PaneExit> {
    const file = join(this.dir, 'exit.json');
    await this.poll(
      timeoutMs,
      async () => existsSync(file),
      () => `the program did not exit within ${timeoutMs} ms`,
    );
    const { status, signal } = JSON.parse(readFileSync(file, 'utf8')) as {
      status: number | null;
      signal: NodeJS.Signals | null;
    };
    return { status: status ?? undefined, signal: signal ?? undefined };
  }

  /** Stops the tmux server (and with it the program) and removes the socket's directory. Idempotent. */
  async kill(): Promise<void> {
    if (this.killed) return;
    this.killed = true;
    await this.tmux('kill-server').catch(() => undefined); // already gone: nothing to stop
    // The pane's shell may still be writing its exit file as it dies: retry ENOTEMPTY a few times.
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  }

  private async poll(timeoutMs: number, done: () => Promise<boolean>, failure: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await done()) return;
      if (Date.now() >= deadline) throw new Error(failure());
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  private tmux(...args: string[]): Promise<{ stdout: string }> {
    return run('tmux', ['-S', join(this.dir, 'socket'), '-f', join(this.dir, 'tmux.conf'), ...args], {
      env: this.env,
    });
  }
}
