/**
 * High-entropy secrets the server generates (client secrets): shown once, stored as a keyed SHA-256
 * (HMAC) — for 256-bit random secrets a slow password hash adds no strength and would cap throughput.
 */
import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';

/** A client secret: `clvs_` + 43 base64url characters (256 bits). The prefix lets scanners find it. */
export function generateClientSecret(): string {
  return `clvs_${randomBytes(32).toString('base64url')}`;
}

/** A random identifier with a readable prefix. */
export function randomId(prefix: string, bytes = 16): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

export class SecretHasher {
  readonly #key: KeyObject;

  constructor(key: Buffer) {
    this.#key = createSecretKey(key);
  }

  hash(secret: string): string {
    return createHmac('sha256', this.#key).update(secret, 'utf8').digest('base64url');
  }

  /** Constant-time comparison of `secret` against a stored hash. */
  verify(secret: string, storedHash: string): boolean {
    const a = createHmac('sha256', this.#key).update(secret, 'utf8').digest();
    const b = Buffer.from(storedHash, 'base64url');
    return b.length === a.length && timingSafeEqual(a, b);
  }
}
