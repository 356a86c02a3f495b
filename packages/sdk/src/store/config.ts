/**
 * The SDK's small, non-secret config file (`config.json` in {@link configDir}): the last server used
 * (the CLI's default for `--server`) and, per server and client, whose login is stored and where
 * (`keychain` or `file`), so a later run reads it from the same place without probing again.
 *
 * @example
 * ```ts
 * const server = flags.server ?? env.CLAVIS_SERVER ?? (await lastServer(env));
 * ```
 */
import { join } from 'node:path';
import { configDir, ensureDir, readJsonFile, writeJsonFile } from './files.js';

/** Where one login is kept. */
export interface LoginPointer {
  sub: string;
  store: 'keychain' | 'file';
}

/** The config file's content. */
export interface ClavisConfig {
  /** The issuer of the last login or token. */
  last_server?: string;
  /** Keyed by `issuer client_id`. */
  logins: Record<string, LoginPointer>;
}

type Env = Record<string, string | undefined>;

/** The key of a server and client in {@link ClavisConfig.logins}. */
export const loginKey = (issuer: string, clientId: string): string => `${issuer} ${clientId}`;

const configPath = (env: Env): string => join(configDir(env), 'config.json');

/**
 * Reads the config; a missing or malformed file reads as empty.
 *
 * @example
 * ```ts
 * const { last_server } = await readConfig(process.env);
 * ```
 */
export async function readConfig(env: Env): Promise<ClavisConfig> {
  const raw = await readJsonFile(configPath(env));
  const config: ClavisConfig = { logins: {} };
  if (typeof raw?.last_server === 'string') config.last_server = raw.last_server;
  const logins = raw?.logins;
  if (typeof logins === 'object' && logins !== null) {
    for (const [key, value] of Object.entries(logins as Record<string, unknown>)) {
      const v = value as Partial<LoginPointer> | null;
      if (typeof v?.sub === 'string' && (v.store === 'keychain' || v.store === 'file')) {
        config.logins[key] = { sub: v.sub, store: v.store };
      }
    }
  }
  return config;
}

/**
 * Changes the config (read, change, write whole, 0600).
 *
 * @example
 * ```ts
 * await updateConfig(env, (config) => { config.last_server = issuer; });
 * ```
 */
export async function updateConfig(env: Env, change: (config: ClavisConfig) => void): Promise<void> {
  const config = await readConfig(env);
  change(config);
  await ensureDir(configDir(env));
  await writeJsonFile(configPath(env), config);
}

/**
 * The server last used, the CLI's default when neither `--server` nor `CLAVIS_SERVER` says.
 *
 * @example
 * ```ts
 * const issuer = (await lastServer(process.env)) ?? 'http://127.0.0.1:8080';
 * ```
 */
export async function lastServer(env: Env): Promise<string | undefined> {
  return (await readConfig(env)).last_server;
}

/**
 * Remembers `issuer` as the last server used.
 *
 * @example
 * ```ts
 * await rememberServer(process.env, 'https://clavis.example.com');
 * ```
 */
export function rememberServer(env: Env, issuer: string): Promise<void> {
  return updateConfig(env, (config) => {
    config.last_server = issuer;
  });
}
