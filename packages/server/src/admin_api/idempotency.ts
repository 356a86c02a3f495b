/**
 * `Idempotency-Key` on the admin API's creates. The first request with a key reserves (caller, key) in
 * one atomic insert; its response is then stored, sealed (it may carry a one-time secret: a client
 * secret, an API key, a password) under a key derived from the KEK and bound to (caller, key), and
 * replayed to the same caller for 24 hours when the same request comes again. The same key with a
 * different request is 422 `idempotency-key-reused`; while the first is still running, 409. Stored
 * responses are deleted when they expire (`purgeIdempotencyKeys`), so a secret is never kept readable
 * for longer than its replay window. The request is recognised by a keyed hash (HMAC, a key derived from
 * the same one): a body may carry a password or a client secret, and an unkeyed digest of it in the
 * database would let a copy confirm guesses offline, at hash speed rather than scrypt's.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import type { Kysely } from 'kysely';
import { seal, unseal } from '../crypto/seal.js';
import { rawExec, rawRows } from '../storage/raw.js';
import type { Database } from '../storage/schema.js';
import { Problem } from './problem.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

/** `Idempotency-Key`: 1 to 255 visible ASCII characters. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The header's schema: what the route validates and the OpenAPI document shows. */
export const idempotencyKeySchema = {
  type: 'string',
  pattern: '^[\\x21-\\x7e]{1,255}$',
  description:
    'The same key and body within 24 hours replay the first response (to the same caller); another body is 422',
};

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export type Reservation = { kind: 'new' } | { kind: 'replay'; response: StoredResponse };

/** A canonical keyed hash of the request: method, path and body with its keys sorted. */
function requestHash(key: Buffer, method: string, path: string, body: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object')
      return Object.fromEntries(
        Object.keys(value as Record<string, unknown>)
          .sort()
          .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
      );
    return value;
  };
  return createHmac('sha256', key)
    .update(JSON.stringify([method, path, canonical(body ?? null)]))
    .digest('base64url');
}

/** The key of a request, if it carries one; a malformed key is refused. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header) || !KEY_PATTERN.test(header))
    throw new Problem('invalid-request', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  return header;
}

export class IdempotencyStore {
  readonly #db: Kysely<Database>;
  readonly #key: Buffer;
  readonly #hashKey: Buffer;
  readonly #clock: () => number;

  constructor(options: { db: Kysely<Database>; sealKey: Buffer; clock: () => number }) {
    this.#db = options.db;
    this.#key = options.sealKey;
    this.#hashKey = Buffer.from(
      hkdfSync('sha256', options.sealKey, Buffer.alloc(0), 'clavis:idempotency-request', 32),
    );
    this.#clock = options.clock;
  }

  /** The stored hash of a request (keyed: see the file's comment). */
  requestHash(method: string, path: string, body: unknown): string {
    return requestHash(this.#hashKey, method, path, body);
  }

  /**
   * Reserves (caller, key) for this request, or answers with the stored response of the same request.
   * One atomic insert: under concurrent calls with the same caller and key exactly one gets `new`.
   */
  async reserve(caller: string, key: string, hash: string): Promise<Reservation> {
    const now = this.#clock();
    await rawExec(this.#db, 'delete from idempotency_keys where caller = ? and key = ? and expires_at <= ?', [
      caller,
      key,
      now,
    ]);
    const inserted = await rawRows<{ caller: string }>(
      this.#db,
      `insert into idempotency_keys (caller, key, request_hash, status, response, created_at, expires_at)
       values (?, ?, ?, null, null, ?, ?) on conflict (caller, key) do nothing returning caller`,
      [caller, key, hash, now, now + IDEMPOTENCY_TTL_MS],
    );
    if (inserted.length > 0) return { kind: 'new' };
    const rows = await rawRows<{
      request_hash: string;
      status: number | string | null;
      response: string | null;
    }>(this.#db, 'select request_hash, status, response from idempotency_keys where caller = ? and key = ?', [
      caller,
      key,
    ]);
    const row = rows[0];
    if (!row) throw new Problem('conflict', 'the request with this Idempotency-Key just ended; retry');
    if (row.request_hash !== hash)
      throw new Problem('idempotency-key-reused', 'this Idempotency-Key was used for a different request');
    if (row.status === null || row.response === null)
      throw new Problem('conflict', 'a request with this Idempotency-Key is still being carried out');
    let response: StoredResponse;
    try {
      response = JSON.parse(
        unseal(this.#key, row.response, context(caller, key)).toString('utf8'),
      ) as StoredResponse;
    } catch {
      // Sealed under a key-encryption key since rotated away: the response cannot be given again.
      throw new Problem('conflict', 'the response to this Idempotency-Key can no longer be replayed');
    }
    return { kind: 'replay', response };
  }

  /** Stores the response of the request that reserved (caller, key). */
  async complete(caller: string, key: string, response: StoredResponse): Promise<void> {
    const sealed = seal(this.#key, Buffer.from(JSON.stringify(response)), context(caller, key));
    await rawExec(
      this.#db,
      'update idempotency_keys set status = ?, response = ? where caller = ? and key = ?',
      [response.status, sealed, caller, key],
    );
  }

  /** Frees the key of a request that failed: a retry runs it again. */
  async release(caller: string, key: string): Promise<void> {
    await rawExec(this.#db, 'delete from idempotency_keys where caller = ? and key = ? and status is null', [
      caller,
      key,
    ]);
  }
}

function context(caller: string, key: string): string {
  return `idempotency:${caller}:${key}`;
}

/** Deletes the stored responses whose replay window has passed. */
export async function purgeIdempotencyKeys(db: Kysely<Database>, now: number): Promise<void> {
  await rawExec(db, 'delete from idempotency_keys where expires_at <= ?', [now]);
}
