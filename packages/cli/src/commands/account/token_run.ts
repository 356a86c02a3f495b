/**
 * `clavis token`: only the access token on stdout, for `curl -H "Authorization: Bearer $(clavis token)"`.
 * `CLAVIS_TOKEN` as is; else a stored login still fresh, read from the file store without loading the
 * SDK (`@clavis/sdk/cached`); else the full client, which refreshes, exchanges or signs as the context
 * calls for. Never starts a login, never prompts.
 */
import type { Readable, Writable } from 'node:stream';
import { cachedLoginToken } from '@clavis/sdk/cached';
import type { Env } from '../../io.js';
import { CLI_CLIENT_ID, resolveServer } from './server.js';

export interface TokenOptions {
  server?: string;
}

export interface TokenDeps {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Env;
  now?: () => number;
}

/** The token that needs neither the network nor the SDK: `CLAVIS_TOKEN`, or a fresh file-stored login. */
async function cheapToken(issuer: string, deps: Pick<TokenDeps, 'env' | 'now'>): Promise<string | undefined> {
  const cached = await cachedLoginToken({
    env: { ...deps.env },
    issuer,
    clientId: CLI_CLIENT_ID,
    ...(deps.now ? { now: deps.now } : {}),
  });
  return cached?.accessToken;
}

export async function runToken(options: TokenOptions, deps: TokenDeps): Promise<void> {
  const print = (token: string): void => {
    deps.stdout.write(`${token}\n`);
  };
  const overriding = deps.env.CLAVIS_TOKEN;
  if (overriding) return print(overriding);
  const issuer = await resolveServer(options.server, deps.env);
  const cached = await cheapToken(issuer, deps);
  if (cached) return print(cached);
  const { cliClient, withSdkErrors } = await import('./client.js');
  const token = await withSdkErrors(() => cliClient(issuer, deps).getToken({ login: false }));
  print(token.accessToken);
}

/**
 * `clavis token [--server URL]` before commander is even loaded (bin.ts): prints the token and says
 * true when it needs nothing but the file store; false sends the process through `main` as usual.
 */
export async function printTokenFast(
  args: readonly string[],
  deps: Pick<TokenDeps, 'stdout' | 'env'>,
): Promise<boolean> {
  let server: string | undefined;
  if (args.length === 2 && args[0] === '--server') server = args[1];
  else if (args.length === 1 && args[0]?.startsWith('--server=')) server = args[0].slice('--server='.length);
  else if (args.length !== 0) return false;
  try {
    const token = deps.env.CLAVIS_TOKEN || (await cheapToken(await resolveServer(server, deps.env), deps));
    if (!token) return false;
    deps.stdout.write(`${token}\n`);
    return true;
  } catch {
    return false; // main reports it, as one line
  }
}
