/**
 * A real terminal for tests: a command run in a tmux pane on a private tmux server (its own socket and an
 * empty config, nothing shared with a user's tmux), read with `capture-pane`, driven with `send-keys`.
 * Waits poll the pane against a deadline; nothing sleeps for a fixed time.
 *
 * A process that prints and exits at once may lose its last output to tmux: keep the program alive
 * until the test has read what it needs (or wait for its exit and judge by the status).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

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
  /** Signal number, when a signal ended it. */
  signal: number | undefined;
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
        ...options.command,
      );
    } catch (error) {
      await session.kill();
      throw error;
    }
    return session;
  }

  /** The visible screen, one string, trailing blank lines dropped. */
  async capture(): Promise<string> {
    const { stdout } = await this.tmux('capture-pane', '-p', '-t', 'test');
    return stdout.replace(/\s+$/, '');
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
    let exit: PaneExit | undefined;
    await this.poll(
      timeoutMs,
      async () => {
        const { stdout } = await this.tmux(
          'display-message',
          '-p',
          '-t',
          'test',
          '#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}',
        );
        const [dead, status, signal] = stdout.trim().split(':');
        if (dead !== '1' || (status === '' && signal === '')) return false;
        exit = { status: status ? Number(status) : undefined, signal: signal ? Number(signal) : undefined };
        return true;
      },
      () => `the program did not exit within ${timeoutMs} ms`,
    );
    if (!exit) throw new Error('unreachable: poll returned without an exit');
    return exit;
  }

  /** Stops the tmux server (and with it the program) and removes the socket's directory. Idempotent. */
  async kill(): Promise<void> {
    if (this.killed) return;
    this.killed = true;
    await this.tmux('kill-server').catch(() => undefined); // already gone: nothing to stop
    rmSync(this.dir, { recursive: true, force: true });
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
