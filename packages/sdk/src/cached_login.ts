/**
 * The cheap path of `getToken()` for a process that lives a few milliseconds (`clavis token` in a
 * `curl -H "Authorization: Bearer $(clavis token)"`): a person's login kept in the file store whose
 * access token is not about to expire, read with nothing but `node:fs`. It answers only where
 * `createClient(...).getToken()` would hand out that same token, and otherwise says `undefined`, so the
 * caller goes on to the full client (a keychain, a refresh, CI, an explicit credential in the
 * environment). Imported as `@clavis/sdk/cached`, it loads none of the SDK's heavier parts.
 *
 * @example
 * ```ts
 * import { cachedLoginToken } from '@clavis/sdk/cached';
 * const token = await cachedLoginToken({ env: process.env, issuer, clientId: 'clavis-cli' });
 * if (token) process.stdout.write(`${token.accessToken}\n`);
 * ```
 */
import { join } from 'node:path';
import { lastServer, loginKey, readConfig } from './store/config.js';
import { configDir, readJsonFile } from './store/files.js';

type Env = Record<string, string | undefined>;

/** What {@link cachedLoginToken} takes. */
export interface CachedLoginOptions {
  env: Env;
  /** The issuer, as `normaliseIssuer` writes it (no trailing slash). */
  issuer: string;
  clientId: string;
  now?: () => number;
}

/** A stored login's token, valid for a while yet. */
export interface CachedLoginToken {
  accessToken: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** Variables that make `getToken()` answer from something other than a stored login, or refuse one. */
const OTHER_SOURCES = [
  'CLAVIS_API_KEY',
  'CLAVIS_API_KEY_COMMAND',
  'CLAVIS_CLIENT_ID',
  'CLAVIS_REQUIRE_KEYCHAIN',
  // CI (a stored login is refused there unless allowed): leave the decision to the full client.
  'CI',
  'GITHUB_ACTIONS',
  'GITLAB_CI',
  'BUILDKITE',
  'CIRCLECI',
  'TF_BUILD',
  'JENKINS_URL',
];

/**
 * The file-stored login's access token for `issuer` and `clientId` when the full client would hand it
 * out as it is (same renew-ahead margin as `needsRenewal`); `undefined` in every other case.
 */
export async function cachedLoginToken(options: CachedLoginOptions): Promise<CachedLoginToken | undefined> {
  const { env, issuer, clientId } = options;
  if (OTHER_SOURCES.some((name) => env[name])) return undefined;
  const pointer = (await readConfig(env)).logins[loginKey(issuer, clientId)];
  if (pointer?.store !== 'file') return undefined;
  const entry = (await readJsonFile(join(configDir(env), 'credentials.json')))?.[
    `${issuer} ${clientId} ${pointer.sub}`
  ] as Partial<{ accessToken: unknown; expiresAt: unknown; obtainedAt: unknown }> | undefined;
  const { accessToken, expiresAt, obtainedAt } = entry ?? {};
  if (typeof accessToken !== 'string' || accessToken === '') return undefined;
  if (typeof expiresAt !== 'number' || typeof obtainedAt !== 'number') return undefined;
  const margin = Math.min(60_000, Math.max(0, expiresAt - obtainedAt) / 10);
  if ((options.now ?? Date.now)() >= expiresAt - margin) return undefined;
  return { accessToken, expiresAt };
}

export { lastServer };
