/**
 * An exact cache of looked-up keys and their owners, for SQLite only — the pattern of ClientDirectory.
 * Verification would otherwise cost a key lookup and an owner lookup per call.
 *
 * Exact, so a revocation takes effect at once: every lookup first reads `PRAGMA data_version`, which
 * changes whenever another connection (another process: `clavis admin`, a second `serve`) commits, and
 * the whole cache is dropped; changes this process commits through the audit log (revocations by leak
 * report or idle sweep, admin changes) drop it too (`invalidate`). This process's own bookkeeping — use
 * counts (committed with their records, not announced as changes), rate-limit counters — changes
 * nothing verification reads. Keys with a use limit are never cached: their remaining uses must be read fresh. Nor are keys of
 * people: an account is locked by failed sign-ins written outside the audit log. Unknown hashes
 * are never remembered (a flood of made-up keys must not fill memory). Expiry is compared with the clock
 * on every call. On PostgreSQL, where other instances commit without telling us, nothing is cached.
 */
import type { Kysely } from 'kysely';
import { dataVersion } from '../storage/data_version.js';
import type { Database } from '../storage/schema.js';
import type { ApiKeyRecord } from './api_key_store.js';

const MAX_ENTRIES = 10_000;

interface CachedKey<Owner> {
  key: ApiKeyRecord;
  /** Undefined: the owner is disabled or gone. */
  owner: Owner | undefined;
}

export class ApiKeyCache<Owner> {
  readonly #db: Kysely<Database>;
  readonly #entries = new Map<string, CachedKey<Owner>>();
  #version: number | undefined;
  #generation = 0;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Forgets everything (after this process committed a change). */
  invalidate(): void {
    this.#entries.clear();
    this.#generation++;
  }

  /**
   * The cached entry for `keyHash`, or a loader to fill it: call `load` to read storage, then `remember`
   * with what it read (it is kept only if nothing was committed meanwhile).
   */
  lookup(keyHash: string): { hit: CachedKey<Owner> } | { remember: (entry: CachedKey<Owner>) => void } {
    const version = dataVersion(this.#db);
    if (version === undefined) return { remember: () => {} };
    if (version !== this.#version) {
      this.#entries.clear();
      this.#version = version;
    }
    const hit = this.#entries.get(keyHash);
    if (hit) return { hit };
    const generation = this.#generation;
    return {
      remember: (entry) => {
        if (entry.key.maxUses !== null || entry.key.ownerType !== 'client') return;
        if (this.#version !== version || this.#generation !== generation) return;
        if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
        this.#entries.set(keyHash, entry);
      },
    };
  }
}
