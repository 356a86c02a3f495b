/**
 * Client lookups for authentication — one per token, introspection or revocation request.
 *
 * They are cached, and the cache is exact (`ExactCache`): it is dropped whenever the commit version
 * moves — on SQLite `PRAGMA data_version` (another process, such as `clavis admin`, committed anything),
 * on PostgreSQL a change notification from any instance — and whenever this process commits a change
 * through the audit log. On PostgreSQL without a listening connection every lookup goes to the database.
 */
import type { Kysely } from 'kysely';
import { commitVersion, ExactCache } from '../storage/exact_cache.js';
import type { ClientSecretRow, Database } from '../storage/schema.js';
import type { Client } from './client.js';
import { findClientWithSecrets, liveSecrets } from './client_store.js';

const MAX_ENTRIES = 10_000;

export interface ClientWithSecrets {
  client: Client;
  /** Secrets usable at the time asked. */
  secrets: ClientSecretRow[];
}

export class ClientDirectory {
  readonly #db: Kysely<Database>;
  readonly #cache: ExactCache<string, { client: Client; secrets: ClientSecretRow[] }>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
    this.#cache = new ExactCache({ version: commitVersion(db), maxEntries: MAX_ENTRIES });
  }

  /** The cache's hits, misses and invalidations since start (for metrics). */
  get cacheTally(): Readonly<{ hits: number; misses: number; invalidations: number }> {
    return this.#cache.tally;
  }

  /** Forgets everything (after this process changed clients). */
  invalidate(): void {
    this.#cache.invalidate();
  }

  async find(id: string, now: number): Promise<ClientWithSecrets | undefined> {
    const cached = this.#cache.lookup(id);
    let entry: { client: Client; secrets: ClientSecretRow[] } | undefined;
    if ('hit' in cached) entry = cached.hit;
    else {
      entry = await findClientWithSecrets(this.#db, id);
      // Unknown ids are not remembered: a flood of made-up ids must not fill memory.
      if (!entry) return undefined;
      cached.remember(entry);
    }
    return { client: entry.client, secrets: liveSecrets(entry.secrets, now) };
  }
}
