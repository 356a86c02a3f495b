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
 * 5. `checkRateLimit`: the per-key rate limit (DB-shared counter);
 * 6. `use`: the use itself, committed in the audit log's group commit in one unit with the record the
 *    caller gives (the exchange's `token.issue`, the verification's `api_key.use`): both or neither, so
 *    a key's `uses` always equals the uses the audit log shows, and a use is durable before the answer.
 *    A key with `max_uses` is consumed by one conditional UPDATE (exact under any concurrency, on any
 *    number of instances). An unlimited key's uses are added up over each batch and written once per
 *    batch and key (`uses = uses + n`, so instances never overwrite each other).
 */
import { type ApiKeyCheck, checkApiKey } from '@clavis/core';
import type { Kysely } from 'kysely';
import type { AuditLog, BatchTally } from '../audit/audit_log.js';
import type { AuditEntry } from '../audit/events.js';
import type { Client } from '../clients/client.js';
import type { SecretHasher } from '../crypto/secrets.js';
import type { ExactCache } from '../storage/exact_cache.js';
import { rekeyHash } from '../storage/hashed_secrets.js';
import { hitRateLimit, windowStart } from '../storage/rate_limits.js';
import type { Database } from '../storage/schema.js';
import type { SqlStep, StepResult } from '../storage/store_op.js';
import { allowListFor } from './allow_list.js';
import { apiKeyCache, type CachedKey } from './api_key_cache.js';
import {
  type ApiKeyRecord,
  addApiKeyUsage,
  consumeApiKeyUse,
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
  | 'address_missing'
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

interface InspectedKey {
  key: ApiKeyRecord;
  owner: ApiKeyOwner;
  /** The key's scopes still within the owner's current ceiling (a narrowed client narrows its keys). */
  scopes: string[];
}

export type Inspection =
  | ({ ok: true } & InspectedKey)
  | { ok: false; reason: ApiKeyRejection; key?: ApiKeyRecord };

type RateLimitResult = { ok: true } | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number };

type UseResult = { ok: true; remainingUses: number | null } | { ok: false; reason: 'exhausted' };

interface ApiKeyVerifierDeps {
  db: Kysely<Database>;
  hasher: SecretHasher;
  clock: () => number;
  /** Every use commits in its group commit, with its record. */
  audit: AuditLog;
}

const RATE_WINDOW_MS = 60_000;

interface Usage {
  id: string;
  lastUsedAt: number;
  lastUsedIp: string | null;
}

type UsageSum = Usage & { count: number };

/** One statement per key and batch, in key order (so concurrent batches lock rows in the same order). */
function mergeUsages(values: readonly Usage[]): UsageSum[] {
  const merged = new Map<string, UsageSum>();
  for (const use of values) {
    const sum = merged.get(use.id);
    if (!sum) merged.set(use.id, { ...use, count: 1 });
    else {
      sum.count += 1;
      if (use.lastUsedAt >= sum.lastUsedAt) {
        sum.lastUsedAt = use.lastUsedAt;
        sum.lastUsedIp = use.lastUsedIp;
      }
    }
  }
  return [...merged.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Unlimited keys' uses, added up per batch of the audit log. */
const UNLIMITED_USES: BatchTally<Usage> = {
  write: (values) => ({ steps: () => addUsages(values) }),
  statements: (values) => mergeUsages(values).map((usage) => addApiKeyUsage(usage)),
};

function* addUsages(values: readonly Usage[]): Generator<SqlStep, void, StepResult> {
  for (const usage of mergeUsages(values)) yield* addApiKeyUsage(usage).steps();
}

export class ApiKeyVerifier {
  readonly #deps: ApiKeyVerifierDeps;
  readonly #cache: ExactCache<string, CachedKey<ApiKeyOwner>>;

  constructor(deps: ApiKeyVerifierDeps) {
    this.#deps = deps;
    this.#cache = apiKeyCache(deps.db);
  }

  /** The cache's hits, misses and invalidations since start (for metrics). */
  get cacheTally(): Readonly<{ hits: number; misses: number; invalidations: number }> {
    return this.#cache.tally;
  }

  /** Drops cached keys: call after this process commits a change (see api_key_cache.ts). */
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
      let found = await findApiKeyWithOwnerByHash(db, keyHash);
      if (!found && hasher.hasOlderVersions) found = await this.#findUnderOlderVersion(presented, keyHash);
      if (!found) return { ok: false, reason: 'unknown' };
      key = found.key;
      owner = activeOwner(found.owner);
      cached.remember({ key, owner });
    }
    if (key.revokedAt !== null) return { ok: false, reason: 'revoked', key };
    if (key.expiresAt <= now) return { ok: false, reason: 'expired', key };
    if (key.maxUses !== null && key.uses >= key.maxUses) return { ok: false, reason: 'exhausted', key };
    if (!owner) return { ok: false, reason: 'owner_inactive', key };
    if (checkAddress && key.cidrsJson !== null) {
      // A key with an allow-list needs the caller's address: none given is its own reason in the record.
      if (ip === null) return { ok: false, reason: 'address_missing', key };
      if (!allowListFor(key.cidrsJson).allows(ip)) return { ok: false, reason: 'address_not_allowed', key };
    }
    const scopes = owner.ceiling === null ? key.scopes : key.scopes.filter((s) => owner.ceiling?.includes(s));
    return { ok: true, key, owner, scopes };
  }

  /**
   * A key stored under an older hashing-key version (before a KEK rotation): found by its hash under
   * each, newest first, and re-keyed to the current version at once. Its uses are counted by id, so
   * re-keying changes nothing a concurrent use of the same key sees.
   */
  async #findUnderOlderVersion(presented: string, keyHash: string) {
    const { db, hasher } = this.#deps;
    for (const staleHash of hasher.olderHashes(presented)) {
      const found = await findApiKeyWithOwnerByHash(db, staleHash);
      if (!found) continue;
      await rekeyHash(db, 'api_keys', staleHash, keyHash);
      // Nothing verification reads changed (cached entries are by the current version's hash).
      return found;
    }
    return undefined;
  }

  /** Step 5: the key's rate limit (a hit of its shared per-minute counter). */
  async checkRateLimit(key: ApiKeyRecord): Promise<RateLimitResult> {
    if (key.rateLimit === null) return { ok: true };
    const now = this.#deps.clock();
    const start = windowStart(now, RATE_WINDOW_MS);
    const count = await hitRateLimit(this.#deps.db, `api_key:${key.id}`, start);
    if (count <= key.rateLimit) return { ok: true };
    return { ok: false, reason: 'rate_limited', retryAfterSeconds: (start + RATE_WINDOW_MS - now) / 1000 };
  }

  /**
   * Step 6: one use, committed with the record `entry` makes of it (given the uses left, null for an
   * unlimited key) in one unit of the audit log. Exhausted (or revoked or expired meanwhile): nothing
   * is committed and no record written.
   */
  async use(
    key: ApiKeyRecord,
    ip: string | null,
    entry: (remainingUses: number | null) => AuditEntry,
  ): Promise<UseResult> {
    const { audit } = this.#deps;
    const now = this.#deps.clock();
    if (key.maxUses === null) {
      await audit.recordTallied(entry(null), UNLIMITED_USES, { id: key.id, lastUsedAt: now, lastUsedIp: ip });
      return { ok: true, remainingUses: null };
    }
    const recorded = (left: number | null) => (left === null ? null : entry(left));
    // No cache dropped: a use changes nothing the caches read.
    const left = await audit.run(consumeApiKeyUse(key.id, now, ip), recorded);
    return left === null ? { ok: false, reason: 'exhausted' } : { ok: true, remainingUses: left };
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
