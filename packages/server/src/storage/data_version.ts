/**
 * `PRAGMA data_version` for the exact caches on SQLite (clients, API keys): it changes whenever another
 * connection — another process such as `clavis admin` or a second `serve` — commits.
 *
 * Read at most once per event-loop turn and shared by every cache of one database: the requests served
 * in one turn had all arrived before the read, so each still sees the database as it was at some moment
 * between its arrival and its answer (a revocation committed elsewhere is honoured by every request that
 * arrives after it). A read is ~7 µs of a verification; two per request were a tenth of its cost.
 */
import type { Kysely } from 'kysely';
import { syncDriver } from './raw.js';
import type { Database } from './schema.js';

class DataVersionProbe {
  readonly #db: Kysely<Database>;
  #value: number | undefined;
  #fresh = false;
  readonly #expire = (): void => {
    this.#fresh = false;
  };

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The data version, or undefined when it cannot be read synchronously right now (not SQLite, busy). */
  current(): number | undefined {
    if (this.#fresh) return this.#value;
    const read = syncDriver(this.#db)?.tryExclusive((c) => {
      const row = c.runSync('pragma data_version', []).rows[0] as { data_version?: number } | undefined;
      return row?.data_version;
    });
    if (read?.value === undefined) return undefined;
    this.#value = read.value;
    this.#fresh = true;
    setImmediate(this.#expire);
    return this.#value;
  }
}

const probes = new WeakMap<Kysely<Database>, DataVersionProbe>();

/** The data version of `db` as of this event-loop turn; undefined off SQLite or while it is busy. */
export function dataVersion(db: Kysely<Database>): number | undefined {
  let probe = probes.get(db);
  if (!probe) {
    probe = new DataVersionProbe(db);
    probes.set(db, probe);
  }
  return probe.current();
}
