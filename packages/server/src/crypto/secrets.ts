/**
 * High-entropy secrets the server generates (client secrets): shown once, stored as a keyed SHA-256
 * (HMAC) — for 256-bit random secrets a slow password hash adds no strength and would cap throughput.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { HmacSha256 } from './hmac.js';

/** A client secret: `clvs_` + 43 base64url characters (256 bits). The prefix lets scanners find it. */
export function generateClientSecret(): string {
  return `clvs_${randomBytes(32).toString('base64url')}`;
}

/** A random identifier with a readable prefix. */
export function randomId(prefix: string, bytes = 16): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

export class SecretHasher {
  readonly #mac: HmacSha256;

  constructor(key: Buffer) {
    this.#mac = new HmacSha256(key);
  }

  hash(secret: string): string {
    return this.#mac.digest(secret).toString('base64url');
  }

  /** Constant-time comparison of `secret` against a stored hash. */
  verify(secret: string, storedHash: string): boolean {
    const a = this.#mac.digest(secret);
    const b = Buffer.from(storedHash, 'base64url');
    return b.length === a.length && timingSafeEqual(a, b);
  }
}

// One CSPRNG call per 4 KiB rather than per identifier: token ids are minted on every request.
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** `bytes` random bytes as base64url, drawn from a pooled CSPRNG buffer (never reused). */
export function randomToken(bytes = 16): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const out = pool.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return out;
}
