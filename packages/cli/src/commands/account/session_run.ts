/** `clavis whoami` and `clavis logout`: who the current credential acts as; forgetting a login. */
import type { Readable, Writable } from 'node:stream';
import { whoamiJson } from '@clavis/sdk';
import { type Env, writeJson, writeLine } from '../../io.js';
import { cliClient, withSdkErrors } from './client.js';
import { resolveServer } from './server.js';

export interface WhoamiOptions {
  server?: string;
  json?: boolean;
}

export interface LogoutOptions {
  server?: string;
}

export interface SessionDeps {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Env;
}

/** The principal, how the credential was obtained, its scopes, expiry and store. Never logs in. */
export async function runWhoami(options: WhoamiOptions, deps: SessionDeps): Promise<void> {
  const issuer = deps.env.CLAVIS_TOKEN
    ? await resolveServer(options.server, deps.env).catch(() => 'http://127.0.0.1')
    : await resolveServer(options.server, deps.env);
  const who = whoamiJson(await withSdkErrors(() => cliClient(issuer, deps).whoami()));
  if (options.json) return writeJson(deps, who);
  const principal = who.username ?? who.client_id ?? who.sub ?? '(unknown)';
  const kind = who.username ? 'person' : who.client_id ? 'service' : 'principal';
  const rows: Array<[string, string]> = [
    [kind, principal],
    ['sub', who.sub ?? '(unknown)'],
    ['source', who.source],
    ['scopes', who.scopes.join(' ') || '(none)'],
    ['expires_at', who.expires_at ?? '(unknown)'],
    ['store', who.store],
  ];
  if (!deps.env.CLAVIS_TOKEN) rows.unshift(['server', issuer]);
  for (const [name, value] of rows) writeLine(deps.stdout, `${`${name}:`.padEnd(12)}${value}`);
}

/** Revokes the stored login's refresh token at the server, then forgets it. Idempotent. */
export async function runLogout(options: LogoutOptions, deps: SessionDeps): Promise<void> {
  const issuer = await resolveServer(options.server, deps.env);
  const result = await withSdkErrors(() => cliClient(issuer, deps).logout());
  if (!result.removed) {
    writeLine(deps.stderr, `Not logged in to ${issuer}: nothing to do.`);
  } else if (result.revoked) {
    writeLine(
      deps.stderr,
      `Logged out of ${issuer}: the login was revoked at the server and forgotten here.`,
    );
  } else {
    writeLine(
      deps.stderr,
      `Logged out of ${issuer}: the login was forgotten here (the server did not revoke it).`,
    );
  }
}
