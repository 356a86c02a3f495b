/** The command's view of the world, passed explicitly so commands are testable without a process. */
import type { Readable, Writable } from 'node:stream';

/** The environment variables a command reads. */
export type Env = Readonly<Record<string, string | undefined>>;

export interface Io {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: Env;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: Promise<string>;
}

export function processIo(): Io {
  const stopSignal = new Promise<string>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve(signal));
  });
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    stopSignal,
  };
}

export function writeJson(io: Pick<Io, 'stdout'>, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function writeLine(stream: Writable, text = ''): void {
  stream.write(`${text}\n`);
}
