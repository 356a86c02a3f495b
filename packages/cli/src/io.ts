/** The command's view of the world, passed explicitly so commands are testable without a process. */
import type { Readable, Writable } from 'node:stream';
import { exitCodes } from './errors.js';

/** The environment variables a command reads. */
export type Env = Readonly<Record<string, string | undefined>>;

export interface Io {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: Env;
  /**
   * Resolves when the process is asked to stop (SIGINT/SIGTERM). A command that reads it stops itself
   * (`serve`, `audit list --follow`); for any other, the signal cancels it: exit 2 (see processIo).
   */
  stopSignal: Promise<string>;
}

export function processIo(): Io {
  // A reader that stopped reading (`clavis … | head`) is not an error of ours: stop quietly, as a
  // process killed by SIGPIPE would, instead of an unhandled 'error' event's stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  // Whether the running command waits for the signal itself; until one does, a signal cancels.
  let handled = false;
  const stopSignal = new Promise<string>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        if (!handled) {
          process.stderr.write('clavis: cancelled\n');
          process.exit(exitCodes.cancelled);
        }
        resolve(signal);
      });
    }
  });
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    get stopSignal() {
      handled = true;
      return stopSignal;
    },
  };
}

export function writeJson(io: Pick<Io, 'stdout'>, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function writeLine(stream: Writable, text = ''): void {
  stream.write(`${text}\n`);
}
