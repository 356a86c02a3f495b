/**
 * Where a person's login (from the device flow) is kept between runs: the OS keychain, or — where no
 * keychain answers, as on a headless Linux or in a container — a 0600 file `credentials.json` in the
 * SDK's 0700 directory. The fallback is explicit: announced once through `warn`, remembered in the
 * config (later runs read the file without probing again), shown as `store: 'file'`, and refused with
 * `CLAVIS_REQUIRE_KEYCHAIN=1` (`keychain_unavailable`). Logins are keyed by issuer, client and
 * principal, so several servers sit side by side. Only logins are stored: a workload's tokens are
 * cheap to obtain again and are kept in memory only.
 *
 * @example
 * ```ts
 * const store = new LoginStore({ env: process.env, warn: (line) => process.stderr.write(`${line}\n`) });
 * const found = await store.load('https://clavis.example.com', 'clavis-cli');
 * ```
 */
import { join } from 'node:path';
import { ClavisError } from '../errors.js';
import { loginKey, readConfig, updateConfig } from './config.js';
import { configDir, ensureDir, readJsonFile, writeJsonFile } from './files.js';
import { type Keychain, KeychainUnavailable, osKeychain } from './keychain.js';
import { withFileLock } from './lock.js';

/** A stored login: the refresh token and the current access token of one person at one server. */
export interface StoredLogin {
  issuer: string;
  clientId: string;
  sub: string;
  username?: string;
  accessToken: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** When the access token was obtained, for the renew-ahead margin. */
  obtainedAt: number;
  scopes: string[];
  refreshToken?: string;
  /** The verified id_token's claims, when the server issued one. */
  idTokenClaims?: Record<string, unknown>;
}

/** A login and where it was found. */
export interface FoundLogin {
  login: StoredLogin;
  store: 'keychain' | 'file';
}

/** Where the store reads the environment, which keychain it uses, and where it announces the fallback. */
export interface LoginStoreOptions {
  env: Record<string, string | undefined>;
  /** The keychain; `null` for none (the file, announced). Default: the OS keychain. */
  keychain?: Keychain | null;
  /** Where the fallback is announced (default: stderr). */
  warn?: (line: string) => void;
}

function isLogin(value: unknown): value is StoredLogin {
  const v = value as Partial<StoredLogin> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.issuer === 'string' &&
    typeof v.clientId === 'string' &&
    typeof v.sub === 'string' &&
    typeof v.accessToken === 'string' &&
    typeof v.expiresAt === 'number' &&
    typeof v.obtainedAt === 'number' &&
    Array.isArray(v.scopes)
  );
}

const account = (issuer: string, clientId: string, sub: string): string => `${issuer} ${clientId} ${sub}`;

/**
 * The logins of this machine's user.
 *
 * @example
 * ```ts
 * const store = new LoginStore({ env: process.env });
 * const client = createClient({ issuer, clientId: 'clavis-cli', store });
 * ```
 */
export class LoginStore {
  readonly dir: string;
  private readonly env: Record<string, string | undefined>;
  private readonly keychain: Keychain | null;
  private readonly warn: (line: string) => void;
  private announced = false;

  constructor(options: LoginStoreOptions) {
    this.env = options.env;
    this.dir = configDir(options.env);
    this.keychain = options.keychain === undefined ? osKeychain() : options.keychain;
    this.warn = options.warn ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** The lock file guarding refreshes of the logins of `issuer` and `clientId`. */
  lockPath(issuer: string, clientId: string): string {
    const safe = Buffer.from(loginKey(issuer, clientId)).toString('base64url').slice(0, 120);
    return join(this.dir, `refresh-${safe}.lock`);
  }

  private get credentialsPath(): string {
    return join(this.dir, 'credentials.json');
  }

  /**
   * Runs a read-change-write of the shared files under one lock, so that two processes storing the
   * logins of different servers at once do not lose one another's.
   */
  private mutate<T>(change: () => Promise<T>): Promise<T> {
    return withFileLock(join(this.dir, 'store.lock'), change, { timeoutMs: 10_000 });
  }

  private get keychainRequired(): boolean {
    return this.env.CLAVIS_REQUIRE_KEYCHAIN === '1';
  }

  /** The stored login for `issuer` and `clientId`, if any. */
  async load(issuer: string, clientId: string): Promise<FoundLogin | undefined> {
    const pointer = (await readConfig(this.env)).logins[loginKey(issuer, clientId)];
    if (!pointer) return undefined;
    const key = account(issuer, clientId, pointer.sub);
    if (pointer.store === 'keychain') {
      if (!this.keychain) return undefined;
      let text: string | null;
      try {
        text = await this.keychain.get(key);
      } catch (err) {
        if (err instanceof KeychainUnavailable) return undefined;
        throw err;
      }
      const parsed = text ? safeParse(text) : undefined;
      return isLogin(parsed) ? { login: parsed, store: 'keychain' } : undefined;
    }
    if (this.keychainRequired) {
      throw new ClavisError(
        'keychain_unavailable',
        'the stored login is in a file and CLAVIS_REQUIRE_KEYCHAIN=1 allows only the OS keychain',
      );
    }
    const entry = (await readJsonFile(this.credentialsPath))?.[key];
    return isLogin(entry) ? { login: entry, store: 'file' } : undefined;
  }

  /** Stores `login` (replacing the server and client's previous one); returns where. */
  async save(login: StoredLogin, previous?: FoundLogin): Promise<'keychain' | 'file'> {
    await ensureDir(this.dir);
    const key = account(login.issuer, login.clientId, login.sub);
    let store: 'keychain' | 'file' | undefined;
    // A login stays where it was; a new one goes to the keychain when one answers.
    if (previous?.store !== 'file' && this.keychain) {
      try {
        await this.keychain.set(key, JSON.stringify(login));
        store = 'keychain';
      } catch (err) {
        if (!(err instanceof KeychainUnavailable)) throw err;
      }
    }
    if (!store) {
      if (this.keychainRequired) {
        throw new ClavisError(
          'keychain_unavailable',
          'no OS keychain answered and CLAVIS_REQUIRE_KEYCHAIN=1 forbids storing the login in a file',
        );
      }
      await this.mutate(async () => {
        const entries = (await readJsonFile(this.credentialsPath)) ?? {};
        entries[key] = login;
        await writeJsonFile(this.credentialsPath, entries);
      });
      store = 'file';
      if (previous?.store !== 'file' && !this.announced) {
        this.announced = true;
        this.warn(
          `No OS keychain is available: the login is stored in ${this.credentialsPath} (mode 0600). ` +
            'Set CLAVIS_REQUIRE_KEYCHAIN=1 to refuse this.',
        );
      }
    }
    const pointerKey = loginKey(login.issuer, login.clientId);
    const old = previous && previous.login.sub !== login.sub ? previous : undefined;
    await this.mutate(() =>
      updateConfig(this.env, (config) => {
        config.logins[pointerKey] = { sub: login.sub, store: store as 'keychain' | 'file' };
        config.last_server = login.issuer;
      }),
    );
    if (old) await this.deleteEntry(old);
    return store;
  }

  /** Forgets the stored login of `issuer` and `clientId`. */
  async remove(found: FoundLogin): Promise<void> {
    await this.deleteEntry(found);
    await this.mutate(() =>
      updateConfig(this.env, (config) => {
        delete config.logins[loginKey(found.login.issuer, found.login.clientId)];
      }),
    );
  }

  private async deleteEntry({ login, store }: FoundLogin): Promise<void> {
    const key = account(login.issuer, login.clientId, login.sub);
    if (store === 'keychain') {
      await this.keychain?.delete(key).catch(() => {});
      return;
    }
    await this.mutate(async () => {
      const entries = await readJsonFile(this.credentialsPath);
      if (entries && key in entries) {
        delete entries[key];
        await writeJsonFile(this.credentialsPath, entries);
      }
    });
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
