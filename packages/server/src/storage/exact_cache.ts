/**
 * An exact cache of rows read on every request (clients, API keys): an entry is served only while
 * nothing that could have changed it has been committed, by anyone.
 *
 * Two signals drop every entry at once, and nothing else does:
 * - the `CommitVersion` moved: another connection (another process, another instance) committed;
 * - `invalidate()`: this process committed a change through its own connection (the audit log's
 *   `onChange`), which the version does not report.
 * A read that started before either signal cannot store what it read (it may predate the change).
 * Where the version cannot be read (SQLite's connection busy right now; PostgreSQL while the instance's
 * listening connection is down, or when it has none) nothing is cached: every lookup goes to storage.
 */
import type { Kysely } from 'kysely';
import { dataVersion } from './data_version.js';
import type { Database } from './schema.js';

/**
 * Says whether entries read earlier may still be served: a number that changes whenever anyone else
 * commits, or undefined when that cannot be known right now (then nothing is cached).
 *
 * SQLite's is `PRAGMA data_version` (`sqliteCommitVersion`). PostgreSQL's counts the `LISTEN`
 * notifications that changing transactions send on commit (`PgChangeListener`), answering undefined
 * while its listening connection is down (a notification may have been missed).
 */
export interface CommitVersion {
  current(): number | undefined;
}

/** The commit version of `db`: SQLite's data version (undefined on PostgreSQL). */
export function sqliteCommitVersion(db: Kysely<Database>): CommitVersion {
  return { current: () => dataVersion(db) };
}

const registered = new WeakMap<Kysely<Database>, CommitVersion>();

/** Gives the root handle `db` a commit version other than SQLite's (PostgreSQL's change listener). */
export function registerCommitVersion(db: Kysely<Database>, version: CommitVersion): void {
  registered.set(db, version);
}

/**
 * The commit version the caches of `db` follow: the registered one (PostgreSQL opened with a change
 * listener), else SQLite's data version — undefined, so nothing cached, on a PostgreSQL without one.
 */
export function commitVersion(db: Kysely<Database>): CommitVersion {
  return registered.get(db) ?? sqliteCommitVersion(db);
}

interface ExactCacheOptions<V> {
  version: CommitVersion;
  /** At most this many entries: reaching it drops them all (a flood of distinct keys costs memory once). */
  maxEntries: number;
  /** Whether a value read may be kept at all (default: every value). */
  admits?: (value: V) => boolean;
}

/** A cache miss: `remember` keeps what the caller then read, if nothing was committed meanwhile. */
export interface CacheMiss<V> {
  remember(value: V): void;
}

export class ExactCache<K, V> {
  readonly #version: CommitVersion;
  readonly #maxEntries: number;
  readonly #admits: (value: V) => boolean;
  readonly #entries = new Map<K, V>();
  #seenVersion: number | undefined;
  #generation = 0;
  /** Lookups answered from memory, lookups that went to storage, and times every entry was dropped. */
  readonly tally = { hits: 0, misses: 0, invalidations: 0 };

  constructor(options: ExactCacheOptions<V>) {
    this.#version = options.version;
    this.#maxEntries = options.maxEntries;
    this.#admits = options.admits ?? (() => true);
  }

  /** Forgets everything (after this process committed a change). */
  invalidate(): void {
    this.tally.invalidations++;
    this.#entries.clear();
    this.#generation++;
  }

  /**
   * The entry for `key`, or a miss: read storage, then `remember` what was read (it is kept only if it
   * is admitted and nothing was committed meanwhile). A value never read — an unknown key — is simply
   * not remembered, so made-up keys do not fill memory.
   */
  lookup(key: K): { hit: V } | CacheMiss<V> {
    const version = this.#version.current();
    if (version === undefined) {
      this.tally.misses++;
      return NOT_CACHING;
    }
    if (version !== this.#seenVersion) {
      if (this.#seenVersion !== undefined) this.tally.invalidations++;
      this.#entries.clear();
      this.#seenVersion = version;
    }
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.tally.hits++;
      return { hit };
    }
    this.tally.misses++;
    const generation = this.#generation;
    return {
      remember: (value) => {
        if (!this.#admits(value)) return;
        if (this.#seenVersion !== version || this.#generation !== generation) return;
        if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
        this.#entries.set(key, value);
      },
    };
  }
}

const NOT_CACHING: CacheMiss<never> = { remember: () => {} };
