/**
 * Any failure → its one-line message and exit code. Knows the server's operator errors (a bad KEK, a
 * malformed database URL, …), so it loads the server: main imports it only when such an error may be
 * the cause, never on the way to success.
 */
import {
  AdminError,
  AuditAnchorError,
  AuditKeyError,
  ConfigError,
  DatabaseMissingError,
  DatabaseUrlError,
  KekError,
} from '@clavis/server';
import { CliError, exitCodes } from './errors.js';

export function describeFailure(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (
    err instanceof AdminError ||
    err instanceof KekError ||
    err instanceof AuditAnchorError ||
    err instanceof AuditKeyError ||
    err instanceof DatabaseUrlError ||
    err instanceof DatabaseMissingError ||
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
