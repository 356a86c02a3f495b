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
 */
import type { Kek } from './kek.js';
import { seal, unsealWithAny } from './seal.js';

export const WRAPPED_KEYS_SETTING = 'kek_wrapped_keys';
const CONTEXT = 'kek-wrapped-keys';

export interface StableKeys {
  secretHashing: Buffer;
  auditChain: Buffer;
  auditSubjects: Buffer;
}

export function deriveStableKeys(kek: Kek): StableKeys {
  return {
    secretHashing: kek.derive('secret-hashing'),
    auditChain: kek.derive('audit-chain'),
    auditSubjects: kek.derive('audit-subjects'),
  };
}

export function wrapStableKeys(kek: Kek, keys: StableKeys): string {
  const json = JSON.stringify({
    secret_hashing: keys.secretHashing.toString('base64url'),
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
  const parsed = JSON.parse(plaintext.toString('utf8')) as Record<string, string>;
  const key = (name: string) => {
    const value = Buffer.from(parsed[name] ?? '', 'base64url');
    if (value.length !== 32) throw new Error(`wrapped key ${name} is not 32 bytes`);
    return value;
  };
  return {
    index,
    keys: {
      secretHashing: key('secret_hashing'),
      auditChain: key('audit_chain'),
      auditSubjects: key('audit_subjects'),
    },
  };
}
