import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type SpinnerTimers, spinnerAnimates, startSpinner } from '../src/terminal/spinner.js';

class Screen extends Writable {
  text = '';
  constructor(readonly isTTY: boolean) {
    super();
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

/** Timers advanced by hand: `tick()` runs every live interval once. */
class ManualTimers implements SpinnerTimers {
  readonly live = new Map<number, () => void>();
  private next = 1;
  setInterval(callback: () => void, _ms: number): unknown {
    const id = this.next++;
    this.live.set(id, callback);
    return id;
  }
  clearInterval(handle: unknown): void {
    this.live.delete(handle as number);
  }
  tick(): void {
    for (const callback of [...this.live.values()]) callback();
  }
}

const CLEAR = '\r\x1b[2K';

describe('startSpinner on a terminal', () => {
  it('draws a frame at once and one per tick, each over the last', () => {
    const screen = new Screen(true);
    const timers = new ManualTimers();
    const spinner = startSpinner(screen, 'Waiting for approval…', { timers, frames: ['a', 'b'] });
    expect(screen.text).toBe(`${CLEAR}a Waiting for approval…`);
    timers.tick();
    timers.tick();
    expect(screen.text).toBe(
      `${CLEAR}a Waiting for approval…${CLEAR}b Waiting for approval…${CLEAR}a Waiting for approval…`,
    );
    spinner.update('Still waiting…');
    expect(screen.text.endsWith(`${CLEAR}b Still waiting…`)).toBe(true);
    spinner.stop();
  });

  it('prints a notice on a line of its own, then goes on spinning below it', () => {
    const screen = new Screen(true);
    const timers = new ManualTimers();
    const spinner = startSpinner(screen, 'Waiting…', { timers, frames: ['a', 'b'] });
    spinner.print('No OS keychain is available: …');
    expect(screen.text).toBe(`${CLEAR}a Waiting…${CLEAR}No OS keychain is available: …\n${CLEAR}b Waiting…`);
    spinner.stop('Logged in.');
    spinner.print('after');
    expect(screen.text.endsWith(`${CLEAR}Logged in.\nafter\n`)).toBe(true);
    const plain = new Screen(false);
    const quiet = startSpinner(plain, 'Waiting…', { timers: new ManualTimers() });
    quiet.print('notice');
    quiet.stop();
    expect(plain.text).toBe('Waiting…\nnotice\n');
  });

  it('stops by clearing its line, then the final line; no timer is left and later calls do nothing', () => {
    const screen = new Screen(true);
    const timers = new ManualTimers();
    const spinner = startSpinner(screen, 'Waiting…', { timers, frames: ['a'] });
    expect(timers.live.size).toBe(1);
    spinner.stop('Approved.');
    expect(timers.live.size).toBe(0);
    expect(screen.text).toBe(`${CLEAR}a Waiting…${CLEAR}Approved.\n`);
    spinner.stop('again');
    spinner.update('late');
    timers.tick();
    expect(screen.text).toBe(`${CLEAR}a Waiting…${CLEAR}Approved.\n`);
  });

  it('with real timers, leaves no active timer once stopped', () => {
    const timeouts = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timeouts();
    const spinner = startSpinner(new Screen(true), 'Waiting…');
    expect(timeouts()).toBe(before + 1);
    spinner.stop();
    expect(timeouts()).toBe(before);
  });
});

describe('startSpinner elsewhere', () => {
  it('writes plain lines, no escape codes, and starts no timer', () => {
    const screen = new Screen(false);
    const timers = new ManualTimers();
    const spinner = startSpinner(screen, 'Waiting for approval…', { timers });
    expect(timers.live.size).toBe(0);
    spinner.update('Waiting for approval…');
    spinner.update('Still waiting…');
    spinner.stop('Approved.');
    spinner.stop('again');
    expect(screen.text).toBe('Waiting for approval…\nStill waiting…\nApproved.\n');
  });

  it('can be told not to animate on a terminal (TERM=dumb), or to animate elsewhere', () => {
    const dumb = new Screen(true);
    startSpinner(dumb, 'Waiting…', { animate: false, timers: new ManualTimers() }).stop();
    expect(dumb.text).toBe('Waiting…\n');
    const forced = new Screen(false);
    startSpinner(forced, 'Waiting…', { animate: true, timers: new ManualTimers(), frames: ['a'] }).stop();
    expect(forced.text).toBe(`${CLEAR}a Waiting…${CLEAR}`);
  });
});

describe('spinnerAnimates', () => {
  it('animates on a terminal, but not where TERM=dumb, nor off a terminal', () => {
    expect(spinnerAnimates({ isTTY: true }, { TERM: 'xterm-256color' })).toBe(true);
    expect(spinnerAnimates({ isTTY: true }, {})).toBe(true);
    expect(spinnerAnimates({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(spinnerAnimates({ isTTY: false }, { TERM: 'xterm' })).toBe(false);
    expect(spinnerAnimates({}, {})).toBe(false);
  });
});
