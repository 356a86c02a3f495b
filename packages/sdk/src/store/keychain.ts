/**
 * The OS keychain (macOS Keychain, Windows Credential Manager, the Secret Service or kernel keyring on
 * Linux) through `@napi-rs/keyring`, a prebuilt N-API module loaded only when first needed. Every
 * failure to answer — no module for the platform, no keychain service, access refused — is
 * {@link KeychainUnavailable}, for the caller to fall back or refuse.
 *
 * @example
 * ```ts
 * const keychain = osKeychain();
 * await keychain.set('https://clavis.example.com clavis-cli usr_1', JSON.stringify(login));
 * ```
 */

/** A place for secrets keyed by an account name. */
export interface Keychain {
  /** The secret, or `null` when there is none. */
  get(account: string): Promise<string | null>;
  set(account: string, secret: string): Promise<void>;
  delete(account: string): Promise<void>;
}

/**
 * The keychain did not answer.
 *
 * @example
 * ```ts
 * await keychain.set(account, secret).catch((err) => {
 *   if (err instanceof KeychainUnavailable) useFileInstead();
 * });
 * ```
 */
export class KeychainUnavailable extends Error {
  constructor(options?: { cause?: unknown }) {
    super('no OS keychain answered', options);
    this.name = 'KeychainUnavailable';
  }
}

/** The keychain service name every entry is under. */
export const KEYCHAIN_SERVICE = 'clavis';

type KeyringModule = typeof import('@napi-rs/keyring');

/**
 * The OS keychain, its module loaded at the first use.
 *
 * @example
 * ```ts
 * const secret = await osKeychain().get('https://clavis.example.com clavis-cli usr_1');
 * ```
 */
export function osKeychain(service = KEYCHAIN_SERVICE): Keychain {
  let loaded: Promise<KeyringModule> | undefined;
  const entry = async (account: string) => {
    loaded ??= import('@napi-rs/keyring');
    try {
      const { AsyncEntry } = await loaded;
      return new AsyncEntry(service, account);
    } catch (err) {
      throw new KeychainUnavailable({ cause: err });
    }
  };
  const attempt = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw err instanceof KeychainUnavailable ? err : new KeychainUnavailable({ cause: err });
    }
  };
  return {
    get: (account) => attempt(async () => (await (await entry(account)).getPassword()) ?? null),
    set: (account, secret) => attempt(async () => (await entry(account)).setPassword(secret)),
    delete: (account) =>
      attempt(async () => {
        await (await entry(account)).deletePassword();
      }),
  };
}
