/**
 * Client lookups for authentication — one per token, introspection or revocation request.
 *
 * On SQLite they are cached, and the cache is exact: it is dropped whenever `PRAGMA data_version` says
 * another connection (another process, such as `clavis admin`) committed anything, and whenever this
 * process commits a change through the audit log. On PostgreSQL, where other instances change clients
 * without telling us, every lookup goes to the database.
 */
import type { Kysely } from 'kysely';
import { dataVersion } from '../storage/data_version.js';
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
  readonly #cache = new Map<string, { client: Client; secrets: ClientSecretRow[] }>();
  #version: number | undefined;
  #generation = 0;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Forgets everything (after this process changed clients). */
  invalidate(): void {
    this.#cache.clear();
    this.#generation++;
  }

  /** The SQLite data version, or undefined when the cache cannot be validated right now. */
  #currentVersion(): number | undefined {
    return dataVersion(this.#db);
  }

  async find(id: string, now: number): Promise<ClientWithSecrets | undefined> {
    const version = this.#currentVersion();
    if (version === undefined) {
      const found = await findClientWithSecrets(this.#db, id);
      return found && { client: found.client, secrets: liveSecrets(found.secrets, now) };
    }
    if (version !== this.#version) {
      this.#cache.clear();
      this.#version = version;
    }
    let entry = this.#cache.get(id);
    if (!entry) {
      const generation = this.#generation;
      entry = await findClientWithSecrets(this.#db, id);
      // Unknown ids are not remembered: a flood of made-up ids must not fill memory.
      if (!entry) return undefined;
      if (this.#cache.size >= MAX_ENTRIES) this.#cache.clear();
      // A change committed while we were reading must not be masked by this entry.
      if (this.#version === version && this.#generation === generation) this.#cache.set(id, entry);
    }
    return { client: entry.client, secrets: liveSecrets(entry.secrets, now) };
  }
}
