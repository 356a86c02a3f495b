/**
 * The SDK client the person-facing commands share (`clavis-cli`, the process's environment and
 * terminal, notices on stderr), and the SDK's failures as the CLI's one-line errors and exit codes.
 * Loads the whole SDK: only run modules that need a full client import it.
 */
import type { Readable, Writable } from 'node:stream';
import { OAuthError } from '@clavis/core';
import { type ClavisClient, ClavisError, createClient, detectContext } from '@clavis/sdk';
import { CliError, exitCodes } from '../../errors.js';
import type { Env } from '../../io.js';
import { CLI_CLIENT_ID } from './server.js';

export interface ClientDeps {
  stdin: Readable;
  stderr: Writable;
  env: Env;
  /** Where the SDK's notices go; by default a line on stderr. */
  notice?: (line: string) => void;
}

export const isTty = (stream: Readable | Writable): boolean => (stream as { isTTY?: boolean }).isTTY === true;

export function cliClient(issuer: string, deps: ClientDeps, scopes: string[] = []): ClavisClient {
  const env = { ...deps.env };
  return createClient({
    issuer,
    clientId: CLI_CLIENT_ID,
    scopes,
    env,
    warn: deps.notice ?? ((line) => deps.stderr.write(`${line}\n`)),
    context: detectContext(env, { stdinIsTTY: isTty(deps.stdin), stderrIsTTY: isTty(deps.stderr) }),
  });
}

/** SDK error codes that mean "you are not (or no longer) authenticated here". */
const AUTH_CODES = new Set([
  'no_credentials',
  'personal_token_in_ci',
  'not_logged_in',
  'login_expired',
  'login_denied',
  'keychain_unavailable',
  'credential_process_failed',
  'invalid_private_key',
  'federation_unavailable',
]);
const AUTH_OAUTH_CODES = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'access_denied',
  'invalid_token',
]);

/** An SDK or protocol failure as a CliError (its message holds nothing secret); anything else as is. */
export function cliFailure(err: unknown): unknown {
  if (err instanceof ClavisError) {
    if (err.code === 'cancelled') return new CliError('cancelled', exitCodes.cancelled);
    if (err.code === 'login_expired') {
      return new CliError(
        'the code expired before it was approved: run `clavis login` again',
        exitCodes.auth,
      );
    }
    if (err.code === 'login_denied') {
      return new CliError('the login was denied in the browser: nothing was stored', exitCodes.auth);
    }
    return new CliError(err.message, AUTH_CODES.has(err.code) ? exitCodes.auth : exitCodes.error);
  }
  if (err instanceof OAuthError) {
    return new CliError(
      `the server refused: ${err.code}${err.description ? ` (${err.description})` : ''}`,
      AUTH_OAUTH_CODES.has(err.code) ? exitCodes.auth : exitCodes.error,
    );
  }
  return err;
}

/** Runs WORK, turning SDK failures into CliErrors. */
export async function withSdkErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw cliFailure(err);
  }
}
