/**
 * An exact cache (`ExactCache`) of looked-up keys and their owners.
 * Verification would otherwise cost a key lookup and an owner lookup per call.
 *
 * Exact, so a revocation takes effect at once: every lookup first reads the commit version — on SQLite
 * `PRAGMA data_version`, which changes whenever another connection (another process: `clavis admin`, a
 * second `serve`) commits; on PostgreSQL the count of change notifications from every instance — and
 * when it moved the whole cache is dropped; changes this process commits through the audit log (revocations by leak
 * report or idle sweep, admin changes) drop it too (`invalidate`). This process's own bookkeeping — use
 * counts (committed with their records, not announced as changes), rate-limit counters — changes
 * nothing verification reads. Keys with a use limit are never cached: their remaining uses must be read fresh. Nor are keys of
 * people: an account is locked by failed sign-ins written outside the audit log. Unknown hashes
 * are never remembered (a flood of made-up keys must not fill memory). Expiry is compared with the clock
 * on every call. On PostgreSQL while the change listener is down, nothing is cached.
 */
import type { Kysely } from 'kysely';
import { commitVersion, ExactCache } from '../storage/exact_cache.js';
import type { Database } from '../storage/schema.js';
import type { ApiKeyRecord } from './api_key_store.js';

const MAX_ENTRIES = 10_000;

export interface CachedKey<Owner> {
  key: ApiKeyRecord;
  /** Undefined: the owner is disabled or gone. */
  owner: Owner | undefined;
}

/** The cache of keys by keyed hash, keeping only keys of clients without a use limit. */
export function apiKeyCache<Owner>(db: Kysely<Database>): ExactCache<string, CachedKey<Owner>> {
  return new ExactCache({
    version: commitVersion(db),
    maxEntries: MAX_ENTRIES,
    admits: (entry) => entry.key.maxUses === null && entry.key.ownerType === 'client',
  });
}
