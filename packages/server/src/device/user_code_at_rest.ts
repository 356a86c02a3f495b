/**
 * User codes at rest. A person types the code, so it is found by equality (and kept unique); the consent
 * page shows it back, for the person to check against the device (RFC 8628 §5.4). So it is stored as
 * one AES-256 block of the normalised code under a key derived from a server key: a keyed permutation,
 * the same for the same code (equality lookups and the unique index work), that the pages can invert,
 * and that a copy of the database without the KEK cannot — it holds no code a person could enter to claim
 * or decide a pending request.
 *
 * The key is derived (HKDF, a label of its own) from the audit-subject key, one of the stable keys that a
 * KEK rotation re-wraps but does not change (crypto/stable_keys.ts): a code issued before a rotation is
 * still found after it.
 */
import { type Cipheriv, createCipheriv, createDecipheriv, type Decipheriv, hkdfSync } from 'node:crypto';
import { normaliseUserCode } from './user_code.js';

/** Stored values carry this prefix; a value without it is from before (and matches no typed code). */
const PREFIX = 'uc1.';
const BLOCK = 16;

export class UserCodesAtRest {
  /**
   * One cipher and one decipher for the life of the key: in ECB each block stands alone, so `update` of
   * one block (no padding, never `final`) is that block's permutation. Making a cipher per code cost
   * 5–20 µs on every device request.
   */
  readonly #cipher: Cipheriv;
  readonly #decipher: Decipheriv;

  /** `stableKey`: the audit-subject key (`services.stableKeys.auditSubjects`). */
  constructor(stableKey: Buffer) {
    const key = Buffer.from(hkdfSync('sha256', stableKey, Buffer.alloc(0), 'clavis:user-code-at-rest', 32));
    this.#cipher = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
    this.#decipher = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  }

  /** The stored form of a normalised user code. */
  stored(code: string): string {
    const block = Buffer.alloc(BLOCK);
    if (block.write(code, 'latin1') !== code.length || code.length >= BLOCK) {
      throw new RangeError('not a normalised user code');
    }
    return PREFIX + this.#cipher.update(block).toString('base64url');
  }

  /** The user code a stored value holds; undefined for a value from before or under another key. */
  code(stored: string): string | undefined {
    if (!stored.startsWith(PREFIX)) return undefined;
    const sealed = Buffer.from(stored.slice(PREFIX.length), 'base64url');
    if (sealed.length !== BLOCK) return undefined;
    const block = this.#decipher.update(sealed);
    const end = block.indexOf(0);
    if (end < 0 || block.subarray(end).some((b) => b !== 0)) return undefined;
    const code = block.toString('latin1', 0, end);
    return normaliseUserCode(code) === code ? code : undefined;
  }
}

const byKey = new WeakMap<Buffer, UserCodesAtRest>();

/** The user codes at rest under `stableKey` (one instance per key). */
export function userCodesAtRest(stableKey: Buffer): UserCodesAtRest {
  let codes = byKey.get(stableKey);
  if (!codes) {
    codes = new UserCodesAtRest(stableKey);
    byKey.set(stableKey, codes);
  }
  return codes;
}
