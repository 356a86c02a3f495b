/**
 * The keys that must outlive a KEK rotation: the secret-hashing key (stored client secrets, API keys,
 * refresh tokens and recovery codes are keyed hashes of values the server no longer has, so they cannot
 * be re-hashed under a new key without re-issuing every credential), the audit chain's HMAC key (the
 * chain links every record ever written) and the audit-subject key (pseudonyms must stay comparable
 * over time).
 *
 * Until the first rotation they are derived from the KEK. The first rotation wraps them — AES-256-GCM
 * under a key derived from the new KEK — into the settings row `kek_wrapped_keys`, and every rotation
 * after re-wraps that row; from then on they are read from it. So the hashes stay as they are, and a
 * database copy is useless without the current KEK (or a previous one still configured).
 *
 * The secret-hashing key is the exception that does move: each rotation adds a new version of it, and
 * the live versions are wrapped here with it (see crypto/hashing_keys.ts).
 */
import type { HashingKey, HashingKeyring } from './hashing_keys.js';
import type { Kek } from './kek.js';
import { seal, unsealWithAny } from './seal.js';

export const WRAPPED_KEYS_SETTING = 'kek_wrapped_keys';
const CONTEXT = 'kek-wrapped-keys';

export interface StableKeys {
  /** The current secret-hashing key (version `secretHashingVersion`). */
  secretHashing: Buffer;
  secretHashingVersion: number;
  /** Older secret-hashing keys still live, newest first. */
  olderSecretHashing: HashingKey[];
  auditChain: Buffer;
  auditSubjects: Buffer;
}

export function deriveStableKeys(kek: Kek): StableKeys {
  return {
    secretHashing: kek.derive('secret-hashing'),
    secretHashingVersion: 0,
    olderSecretHashing: [],
    auditChain: kek.derive('audit-chain'),
    auditSubjects: kek.derive('audit-subjects'),
  };
}

export function wrapStableKeys(kek: Kek, keys: StableKeys): string {
  const json = JSON.stringify({
    secret_hashing: keys.secretHashing.toString('base64url'),
    secret_hashing_version: keys.secretHashingVersion,
    older_secret_hashing: keys.olderSecretHashing.map((k) => ({
      version: k.version,
      key: k.key.toString('base64url'),
    })),
    audit_chain: keys.auditChain.toString('base64url'),
    audit_subjects: keys.auditSubjects.toString('base64url'),
  });
  return seal(kek.derive('key-wrapping'), Buffer.from(json, 'utf8'), CONTEXT);
}

/** Opens the wrapped keys with the first of `keks` that can; says which one did (its index). */
export function unwrapStableKeys(keks: readonly Kek[], wrapped: string): { keys: StableKeys; index: number } {
  const { plaintext, index } = unsealWithAny(
    keks.map((k) => k.derive('key-wrapping')),
    wrapped,
    CONTEXT,
  );
  const parsed = JSON.parse(plaintext.toString('utf8')) as Record<string, unknown>;
  const bytes = (name: string, text: unknown) => {
    const value = Buffer.from(typeof text === 'string' ? text : '', 'base64url');
    if (value.length !== 32) throw new Error(`wrapped key ${name} is not 32 bytes`);
    return value;
  };
  const key = (name: string) => bytes(name, parsed[name]);
  const version = (name: string, value: unknown) => {
    if (!Number.isSafeInteger(value) || (value as number) < 0)
      throw new Error(`wrapped ${name} has no version`);
    return value as number;
  };
  const older = Array.isArray(parsed.older_secret_hashing) ? (parsed.older_secret_hashing as unknown[]) : [];
  return {
    index,
    keys: {
      secretHashing: key('secret_hashing'),
      secretHashingVersion:
        parsed.secret_hashing_version === undefined
          ? 0
          : version('secret_hashing', parsed.secret_hashing_version),
      olderSecretHashing: older.map((entry) => {
        const { version: v, key: k } = (entry ?? {}) as { version?: unknown; key?: unknown };
        return { version: version('older secret_hashing', v), key: bytes('older secret_hashing', k) };
      }),
      auditChain: key('audit_chain'),
      auditSubjects: key('audit_subjects'),
    },
  };
}

/** The live secret-hashing keys of `keys`. */
export function hashingKeyring(keys: StableKeys): HashingKeyring {
  return {
    current: { version: keys.secretHashingVersion, key: keys.secretHashing },
    older: keys.olderSecretHashing,
  };
}

/** `keys` with `ring` as their secret-hashing keys. */
export function withHashingKeyring(keys: StableKeys, ring: HashingKeyring): StableKeys {
  return {
    ...keys,
    secretHashing: ring.current.key,
    secretHashingVersion: ring.current.version,
    olderSecretHashing: ring.older,
  };
}
