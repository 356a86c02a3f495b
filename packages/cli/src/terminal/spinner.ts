/**
 * A one-line spinner on stderr for a wait such as "Waiting for approval…". It animates only on a terminal;
 * elsewhere (a log, a pipe) its text is written once as a plain line. Stopping clears the line and leaves
 * no timer behind.
 */
import type { Writable } from 'node:stream';

/** The timer functions the spinner uses, injectable so tests drive frames without waiting. */
export interface SpinnerTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface SpinnerOptions {
  /** Animate; by default only when the stream is a TTY. */
  animate?: boolean;
  timers?: SpinnerTimers;
  intervalMs?: number;
  frames?: readonly string[];
}

export interface Spinner {
  /** Replaces the text shown next to the spinner. */
  update(text: string): void;
  /**
   * Writes LINE on a line of its own while the spinner runs (a notice from below, such as where the login
   * is stored), so it never lands glued to the spinner's text; the spinner goes on below it. After
   * `stop`, just writes the line.
   */
  print(line: string): void;
  /** Stops for good: clears the line, then writes FINAL_LINE if given. Calling it again does nothing. */
  stop(finalLine?: string): void;
}

export const defaultFrames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

/**
 * Whether a spinner on STREAM should animate: on a terminal that can move its cursor, so not where `TERM`
 * is `dumb` (an editor's shell buffer, a minimal console), which would show the escapes as text.
 *
 * @example
 * startSpinner(process.stderr, 'Waiting…', { animate: spinnerAnimates(process.stderr, process.env) });
 */
export function spinnerAnimates(
  stream: Writable | { isTTY?: boolean },
  env: Record<string, string | undefined>,
): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true && env.TERM !== 'dumb';
}

/** Move to the start of the line and erase it. */
const CLEAR_LINE = '\r\x1b[2K';

/**
 * Real timers. They are not unref'd: a spinner that is never stopped keeps the process alive, a hang a
 * test sees, rather than a leak nobody does.
 */
const processTimers: SpinnerTimers = {
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/**
 * @example
 * const spinner = startSpinner(process.stderr, 'Waiting for approval…');
 * try { token = await poll(); } finally { spinner.stop(); }
 */
export function startSpinner(
  stream: Writable & { isTTY?: boolean },
  text: string,
  options: SpinnerOptions = {},
): Spinner {
  const frames = options.frames ?? defaultFrames;
  const timers = options.timers ?? processTimers;
  const animate = options.animate ?? stream.isTTY === true;
  let current = text;
  let frame = 0;
  let stopped = false;

  if (!animate) {
    stream.write(`${text}\n`);
    return {
      update(next) {
        if (stopped || next === current) return;
        current = next;
        stream.write(`${next}\n`);
      },
      print(line) {
        stream.write(`${line}\n`);
      },
      stop(finalLine) {
        if (stopped) return;
        stopped = true;
        if (finalLine !== undefined) stream.write(`${finalLine}\n`);
      },
    };
  }

  const draw = (): void => {
    stream.write(`${CLEAR_LINE}${frames[frame % frames.length] ?? ''} ${current}`);
    frame++;
  };
  draw();
  const handle = timers.setInterval(draw, options.intervalMs ?? 80);
  return {
    update(next) {
      if (stopped) return;
      current = next;
      draw();
    },
    print(line) {
      if (stopped) {
        stream.write(`${line}\n`);
        return;
      }
      stream.write(`${CLEAR_LINE}${line}\n`);
      draw();
    },
    stop(finalLine) {
      if (stopped) return;
      stopped = true;
      timers.clearInterval(handle);
      stream.write(CLEAR_LINE);
      if (finalLine !== undefined) stream.write(`${finalLine}\n`);
    },
  };
}
