/**
 * Which Clavis server a person-facing command talks to: `--server`, else `CLAVIS_SERVER`, else the one
 * remembered from the last login. Light: reads the SDK's small config file only.
 */
import { lastServer } from '@clavis/sdk/cached';
import { CliError } from '../../errors.js';
import type { Env } from '../../io.js';

/** The client `clavis login` uses: the server's built-in public client for its own CLI. */
export const CLI_CLIENT_ID = 'clavis-cli';

const MAX_SERVER_LENGTH = 2048;

/** Hosts plain http may name: a token sent there never leaves the machine (the SDK's rule too). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

const noServer = (): CliError =>
  new CliError(
    'no server: pass --server URL or set CLAVIS_SERVER (after `clavis login --server URL` it is remembered)',
  );

/** The server's issuer URL without a trailing slash, as the SDK keys its logins. */
export async function resolveServer(flag: string | undefined, env: Env): Promise<string> {
  const given = flag ?? (env.CLAVIS_SERVER || undefined) ?? (await lastServer({ ...env }));
  if (!given) throw noServer();
  if (given.length > MAX_SERVER_LENGTH)
    throw new CliError(`the server URL is longer than ${MAX_SERVER_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new CliError(`the server is not a URL: ${JSON.stringify(given.slice(0, 100))}`);
  }
  if (
    (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) ||
    url.username ||
    url.password ||
    url.search ||
    url.hash
  ) {
    throw new CliError(
      'the server must be an https URL (or http on loopback) without credentials, query or fragment',
    );
  }
  return url.href.replace(/\/+$/, '');
}
