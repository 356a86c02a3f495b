/**
 * High-entropy secrets the server generates (client secrets): shown once, stored as a keyed SHA-256
 * (HMAC) — for 256-bit random secrets a slow password hash adds no strength and would cap throughput.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { type HashingKey, hashVersionOf, hashVersionPrefix } from './hashing_keys.js';
import { HmacSha256 } from './hmac.js';

/** A client secret: `clvs_` + 43 base64url characters (256 bits). The prefix lets scanners find it. */
export function generateClientSecret(): string {
  return `clvs_${randomBytes(32).toString('base64url')}`;
}

/** A random identifier with a readable prefix. */
export function randomId(prefix: string, bytes = 16): string {
  return `${prefix}${randomToken(bytes)}`;
}

/**
 * A random identifier that sorts by creation time: the prefix, the time in milliseconds as 12 hex digits,
 * then `bytes` random bytes. Rows keyed by it are inserted at the end of their index instead of on a
 * random page of it, so a batch of inserts touches a few pages, not one per row. The time it reveals is
 * the row's creation time, which the row carries anyway; the random part keeps it unguessable.
 */
export function timeOrderedId(prefix: string, now: number, bytes = 12): string {
  return `${prefix}${Math.max(0, Math.floor(now)).toString(16).padStart(12, '0')}${randomToken(bytes)}`;
}

/** A row found by the hash of a presented secret, and under which version it was found. */
export interface FoundByHash<T> {
  row: T;
  /** The hash under the current version: the one to store. */
  hash: string;
  /** The stored hash it was found under, when that was an older version: re-key the row to `hash`. */
  staleHash: string | undefined;
}

interface Version {
  prefix: string;
  mac: HmacSha256;
}

/**
 * Keyed hashes of secrets under the current hashing-key version, and the checks against hashes stored
 * under older live versions (see crypto/hashing_keys.ts for the stored form).
 */
export class SecretHasher {
  readonly version: number;
  readonly #current: Version;
  readonly #older: readonly Version[];
  readonly #byVersion = new Map<number, Version>();

  /** A bare key is version 0, the key before any rotation (its hashes carry no version prefix). */
  constructor(current: Buffer | HashingKey, older: readonly HashingKey[] = []) {
    const head = Buffer.isBuffer(current) ? { version: 0, key: current } : current;
    this.version = head.version;
    const make = (k: HashingKey): Version => {
      const v = { prefix: hashVersionPrefix(k.version), mac: new HmacSha256(k.key) };
      this.#byVersion.set(k.version, v);
      return v;
    };
    this.#current = make(head);
    this.#older = [...older].sort((a, b) => b.version - a.version).map(make);
  }

  /** The hash to store and to look up first: under the current version. */
  hash(secret: string): string {
    const { prefix, mac } = this.#current;
    return prefix + mac.digest(secret).toString('base64url');
  }

  /** Whether hashes under older versions may still be stored (lookups then try them after a miss). */
  get hasOlderVersions(): boolean {
    return this.#older.length > 0;
  }

  /** The hashes of `secret` under each older live version, newest first. */
  olderHashes(secret: string): string[] {
    return this.#older.map(({ prefix, mac }) => prefix + mac.digest(secret).toString('base64url'));
  }

  /** Whether `storedHash` is under the current version (else it is re-keyed when next presented). */
  isCurrent(storedHash: string): boolean {
    return hashVersionOf(storedHash) === this.version;
  }

  /**
   * Finds a row by the hash of `secret`: one lookup under the current version; only on a miss, one per
   * older live version. A hit under an older one says so (`staleHash`): the caller re-keys the row.
   */
  async find<T>(
    secret: string,
    lookup: (hash: string) => Promise<T | undefined>,
  ): Promise<FoundByHash<T> | undefined> {
    const hash = this.hash(secret);
    const row = await lookup(hash);
    if (row !== undefined) return { row, hash, staleHash: undefined };
    for (const staleHash of this.olderHashes(secret)) {
      const old = await lookup(staleHash);
      if (old !== undefined) return { row: old, hash, staleHash };
    }
    return undefined;
  }

  /**
   * Constant-time comparison of `secret` against a stored hash, under the version the hash names. A
   * hash under a version no longer live matches nothing (it is still computed: same cost).
   */
  verify(secret: string, storedHash: string): boolean {
    const version = hashVersionOf(storedHash);
    const v = (version === undefined ? undefined : this.#byVersion.get(version)) ?? this.#current;
    const a = v.mac.digest(secret);
    const b = Buffer.from(storedHash.slice(v.prefix.length), 'base64url');
    return (
      version !== undefined &&
      this.#byVersion.has(version) &&
      storedHash.startsWith(v.prefix) &&
      b.length === a.length &&
      timingSafeEqual(a, b)
    );
  }
}

// One CSPRNG call per 4 KiB rather than per identifier: token ids are minted on every request.
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** `bytes` random bytes as base64url, drawn from a pooled CSPRNG buffer (never reused). */
export function randomToken(bytes = 16): string {
  take(bytes);
  return pool.toString('base64url', offset - bytes, offset);
}

/** `bytes` (at most 4 KiB) random bytes, a copy drawn from the same pool. */
export function randomPooledBytes(bytes: number): Buffer {
  take(bytes);
  return Buffer.from(pool.subarray(offset - bytes, offset));
}

/** Reserves the next `bytes` of the pool (refilling it first if they are not there). */
function take(bytes: number): void {
  if (bytes > POOL_SIZE) throw new RangeError(`at most ${POOL_SIZE} random bytes at a time`);
  if (offset + bytes > pool.length) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  offset += bytes;
}
