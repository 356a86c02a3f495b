/**
 * The `clavis` program: argv → commands, and the one top-level handler that turns every failure into a
 * single stderr line and a stable exit code (0 ok, 1 error, 2 cancelled, 4 authentication).
 */
import {
  AdminError,
  AuditAnchorError,
  AuditKeyError,
  ConfigError,
  DatabaseUrlError,
  KekError,
} from '@clavis/server';
import { Command, CommanderError } from 'commander';
import { registerAdmin } from './commands/admin/index.js';
import { registerServe } from './commands/serve.js';
import { CliError, exitCodes } from './errors.js';
import type { Io } from './io.js';

export const version = '0.1.0';

export function buildProgram(io: Io): Command {
  const program = new Command('clavis')
    .description('Identity and credentials for command-line tools')
    .version(version)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Commander puts "(Did you mean …?)" on a second line; an error is one line on stderr.
      outputError: (s, write) => write(`${oneLine(s)}\n`),
    });
  registerServe(program, io);
  registerAdmin(program, io);
  for (const command of program.commands) command.exitOverride();
  return program;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}

/** Maps any failure to its message and exit code. */
export function describeFailure(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (
    err instanceof AdminError ||
    err instanceof KekError ||
    err instanceof AuditAnchorError ||
    err instanceof AuditKeyError ||
    err instanceof DatabaseUrlError ||
    err instanceof ConfigError
  ) {
    return { message: err.message, exitCode: exitCodes.error };
  }
  const e = err as { code?: unknown; message?: unknown; cause?: unknown };
  if (e.code === 'ECONNREFUSED')
    return { message: 'cannot reach the database (connection refused)', exitCode: exitCodes.error };
  if (e.code === 'EADDRINUSE') return { message: 'the port is already in use', exitCode: exitCodes.error };
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return {
    message: `${typeof e.message === 'string' ? e.message : String(err)}${cause}`,
    exitCode: exitCodes.error,
  };
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCodes.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its one-line message (or the help / version text).
      return err.exitCode === 0 ? exitCodes.ok : exitCodes.error;
    }
    const { message, exitCode } = describeFailure(err);
    io.stderr.write(`clavis: ${oneLine(message)}\n`);
    if (io.env.CLAVIS_DEBUG) io.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    return exitCode;
  }
}
