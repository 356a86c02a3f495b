/**
 * The one verification of a presented API key, shared by every path that accepts keys (token exchange,
 * the verify endpoint; introspection uses `inspect` alone). The steps, in order:
 *
 * 1. format and checksum (`checkApiKey`): a malformed or mistyped key is rejected before any storage
 *    access;
 * 2. lookup by keyed hash: "no such key" and "wrong key" are the same lookup, the same answer;
 * 3. revoked, expired (against the clock, at once: no sweep needed), exhausted, owner still active;
 * 4. the caller's address against the allow-list (AK-01, AK-02);
 * — the caller then applies its own checks (principal, scope) —
 * 5. `use`: the per-key rate limit (DB-shared counter) and the use itself. A key with `max_uses` is
 *    consumed by one conditional UPDATE (exact under any concurrency, on any number of instances).
 *    On SQLite every use — limited or not — is written in the audit log's group commit, before the
 *    answer (one fsync per batch, not per use: verification writes no more often than it must, and
 *    never loses a use). On PostgreSQL an unlimited key's uses and last-used time and address are
 *    counted in memory and added to the row about once a second and on close (`uses = uses + n`, so
 *    instances never overwrite each other): a crash there loses at most that last second of bookkeeping
 *    for unlimited keys, never a use of a limited key.
 */
import { type ApiKeyCheck, checkApiKey, TooManyRequests } from '@clavis/core';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import type { RequestContext } from '../audit/events.js';
import type { Failure, FailureLog } from '../audit/failure_log.js';
import type { Client } from '../clients/client.js';
import type { SecretHasher } from '../crypto/secrets.js';
import { hitRateLimit, windowStart } from '../storage/rate_limits.js';
import type { Database } from '../storage/schema.js';
import { allowListFor } from './allow_list.js';
import { ApiKeyCache } from './api_key_cache.js';
import {
  type ApiKeyRecord,
  addApiKeyUsage,
  addApiKeyUsageSync,
  consumeApiKeyUse,
  consumeApiKeyUseSync,
  findApiKeyWithOwnerByHash,
  type StoredOwner,
} from './api_key_store.js';

/** Why a key was refused. Goes to the audit log, never to the caller beyond the public error. */
export type ApiKeyRejection =
  | Exclude<ApiKeyCheck, 'valid'>
  | 'unknown'
  | 'revoked'
  | 'expired'
  | 'exhausted'
  | 'owner_inactive'
  | 'address_not_allowed'
  | 'insufficient_scope'
  | 'rate_limited'
  | 'principal_mismatch';

/** The reasons that mean "this is not a usable key" and get one identical answer. */
export const INVALID_KEY_REASONS: ReadonlySet<ApiKeyRejection> = new Set([
  'malformed',
  'bad_checksum',
  'unknown',
  'revoked',
  'expired',
  'exhausted',
  'owner_inactive',
]);

/** Who a key belongs to, as it stands now. */
export type ApiKeyOwner =
  | { type: 'client'; id: string; client: Client; ceiling: string[] }
  | { type: 'user'; id: string; username: string; ceiling: string[] | null };

export interface InspectedKey {
  key: ApiKeyRecord;
  owner: ApiKeyOwner;
  /** The key's scopes still within the owner's current ceiling (a narrowed client narrows its keys). */
  scopes: string[];
}

export type Inspection =
  | ({ ok: true } & InspectedKey)
  | { ok: false; reason: ApiKeyRejection; key?: ApiKeyRecord };

export type UseResult =
  | { ok: true; remainingUses: number | null }
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number }
  | { ok: false; reason: 'exhausted' };

export interface ApiKeyVerifierDeps {
  db: Kysely<Database>;
  hasher: SecretHasher;
  clock: () => number;
  /** On SQLite, uses commit in its group commit; without it (or on PostgreSQL) they are batched. */
  audit?: AuditLog;
}

const RATE_WINDOW_MS = 60_000;
const FLUSH_INTERVAL_MS = 1000;

interface PendingUsage {
  count: number;
  lastUsedAt: number;
  lastUsedIp: string | null;
}

export class ApiKeyVerifier {
  readonly #deps: ApiKeyVerifierDeps;
  #pending = new Map<string, PendingUsage>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  readonly #cache: ApiKeyCache<ApiKeyOwner>;

  constructor(deps: ApiKeyVerifierDeps) {
    this.#deps = deps;
    this.#cache = new ApiKeyCache(deps.db);
  }

  /** Drops cached keys: call after this process commits a change (see ApiKeyCache). */
  invalidate(): void {
    this.#cache.invalidate();
  }

  /**
   * Steps 1–4: whether `presented` is a live key usable from `ip`. Consumes nothing. With
   * `checkAddress: false` (introspection, which knows no caller address) the allow-list is skipped.
   */
  async inspect(
    presented: string,
    ip: string | null,
    options: { checkAddress?: boolean } = {},
  ): Promise<Inspection> {
    const checkAddress = options.checkAddress ?? true;
    const format = checkApiKey(presented);
    if (format !== 'valid') return { ok: false, reason: format };
    const { db, hasher } = this.#deps;
    const keyHash = hasher.hash(presented);
    const now = this.#deps.clock();
    const cached = this.#cache.lookup(keyHash);
    let key: ApiKeyRecord | undefined;
    let owner: ApiKeyOwner | undefined;
    if ('hit' in cached) ({ key, owner } = cached.hit);
    else {
      const found = await findApiKeyWithOwnerByHash(db, keyHash);
      if (!found) return { ok: false, reason: 'unknown' };
      key = found.key;
      owner = activeOwner(found.owner);
      cached.remember({ key, owner });
    }
    if (key.revokedAt !== null) return { ok: false, reason: 'revoked', key };
    if (key.expiresAt <= now) return { ok: false, reason: 'expired', key };
    if (key.maxUses !== null && key.uses >= key.maxUses) return { ok: false, reason: 'exhausted', key };
    if (!owner) return { ok: false, reason: 'owner_inactive', key };
    if (checkAddress && key.cidrsJson !== null && !allowListFor(key.cidrsJson).allows(ip)) {
      return { ok: false, reason: 'address_not_allowed', key };
    }
    const scopes = owner.ceiling === null ? key.scopes : key.scopes.filter((s) => owner.ceiling?.includes(s));
    return { ok: true, key, owner, scopes };
  }

  /** Step 5: the rate limit, then one use. */
  async use(key: ApiKeyRecord, ip: string | null): Promise<UseResult> {
    const { db } = this.#deps;
    const now = this.#deps.clock();
    if (key.rateLimit !== null) {
      const start = windowStart(now, RATE_WINDOW_MS);
      const count = await hitRateLimit(db, `api_key:${key.id}`, start);
      if (count > key.rateLimit) {
        return {
          ok: false,
          reason: 'rate_limited',
          retryAfterSeconds: (start + RATE_WINDOW_MS - now) / 1000,
        };
      }
    }
    const audit = this.#deps.audit;
    if (audit?.supportsSync) {
      // SQLite: the use commits in the audit log's group commit (one fsync per batch) before we answer,
      // so no use is ever lost, limited or not. A use changes nothing the caches read.
      const left = await audit.transactSync(
        (c): number | null | 'unlimited' => {
          if (key.maxUses !== null) return consumeApiKeyUseSync(c, key.id, now, ip);
          addApiKeyUsageSync(c, { id: key.id, count: 1, lastUsedAt: now, lastUsedIp: ip });
          return 'unlimited';
        },
        () => null,
      );
      if (left === null) return { ok: false, reason: 'exhausted' };
      return { ok: true, remainingUses: left === 'unlimited' ? null : left };
    }
    if (key.maxUses !== null) {
      const left = await consumeApiKeyUse(db, key.id, now, ip);
      return left === null ? { ok: false, reason: 'exhausted' } : { ok: true, remainingUses: left };
    }
    this.#count(key.id, now, ip);
    return { ok: true, remainingUses: null };
  }

  #count(id: string, now: number, ip: string | null): void {
    const pending = this.#pending.get(id);
    if (pending) {
      pending.count += 1;
      if (now >= pending.lastUsedAt) {
        pending.lastUsedAt = now;
        pending.lastUsedIp = ip;
      }
    } else {
      this.#pending.set(id, { count: 1, lastUsedAt: now, lastUsedIp: ip });
    }
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush().catch(() => {
          // Kept in memory and retried with the next flush.
        });
      }, FLUSH_INTERVAL_MS);
      this.#timer.unref();
    }
  }

  /**
   * Writes the uses counted in memory. On failure they are merged back and tried again later, so a
   * storage outage delays the bookkeeping but loses nothing short of a crash.
   */
  flush(): Promise<void> {
    const run = async (): Promise<void> => {
      await this.#flushing;
      const batch = this.#pending;
      if (batch.size === 0) return;
      this.#pending = new Map();
      const failed: Array<[string, PendingUsage]> = [];
      let error: unknown;
      for (const [id, usage] of batch) {
        try {
          await addApiKeyUsage(this.#deps.db, { id, ...usage });
        } catch (err) {
          failed.push([id, usage]);
          error = err;
        }
      }
      for (const [id, usage] of failed) {
        const now = this.#pending.get(id);
        if (!now) this.#pending.set(id, usage);
        else {
          now.count += usage.count;
          if (usage.lastUsedAt > now.lastUsedAt) {
            now.lastUsedAt = usage.lastUsedAt;
            now.lastUsedIp = usage.lastUsedIp;
          }
        }
      }
      if (error !== undefined) throw error;
    };
    const next = run();
    this.#flushing = next.catch(() => {});
    return next;
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}

/** The owner as verification sees it, or undefined when disabled, locked or gone. */
function activeOwner(stored: StoredOwner): ApiKeyOwner | undefined {
  if (!stored) return undefined;
  if (stored.type === 'client') {
    const { client } = stored;
    return client.disabledAt === null
      ? { type: 'client', id: client.id, client, ceiling: client.scopes }
      : undefined;
  }
  return stored.active
    ? { type: 'user', id: stored.id, username: stored.username, ceiling: stored.scopes }
    : undefined;
}

/**
 * Records a refused use: the reason and key id, never the key. Presented by an unauthenticated caller
 * (`charge`: the token exchange), the refusal is charged to the caller's address and, over its budget,
 * answered with `TooManyRequests` (thrown here); presented through an authenticated resource server
 * (the verify endpoint), it is only aggregated. Either way repeated refusals become one record.
 */
export async function auditKeyDenied(
  failures: FailureLog,
  input: {
    reason: ApiKeyRejection;
    keyId?: string | undefined;
    via: 'token_exchange' | 'verify';
    context: RequestContext;
    callerClientId?: string | null;
    charge: boolean;
  },
): Promise<void> {
  const failure = {
    entry: {
      event: 'api_key.use_denied',
      outcome: 'failure',
      actor: { type: 'anonymous', id: null },
      clientId: input.callerClientId ?? null,
      ip: input.context.ip,
      userAgent: input.context.userAgent,
      detail: { reason: input.reason, via: input.via, ...(input.keyId ? { api_key_id: input.keyId } : {}) },
    },
    subject: input.keyId ?? null,
  } satisfies Failure;
  if (!input.charge) return failures.note(failure);
  const verdict = await failures.fail(failure);
  if (verdict.throttled) {
    throw new TooManyRequests('too many refused attempts from this address', verdict.retryAfterSeconds);
  }
}
