/**
 * Opening the database named by a `--db` URL: `sqlite:PATH` (the default, one file, WAL) or
 * `postgres://…` (many instances share it). Migrations run on open, under the migrator's lock.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { ChangeListenerOptions, PgChangeListener } from './change_listener.js';
import { guardTransactions, NodeSqliteDialect } from './dialects/node_sqlite.js';
import { isUniqueViolation } from './errors.js';
import { registerCommitVersion } from './exact_cache.js';
import { migrationProvider, migrations } from './migrations/index.js';
import { registerPgPool, registerSyncDriver } from './raw.js';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Where the data lives, for people (never includes a password). */
  description: string;
  /** PostgreSQL opened with `listenForChanges`: the connection that keeps the caches exact. */
  changes?: PgChangeListener;
  close(): Promise<void>;
}

export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError';
}

/** Opened with `create: false`, and there is no Clavis database there. */
export class DatabaseMissingError extends Error {
  override name = 'DatabaseMissingError';
}

function missing(where: string): DatabaseMissingError {
  return new DatabaseMissingError(
    `no Clavis database at ${where}; check --db or CLAVIS_DB (only clavis serve or clavis admin init creates one)`,
  );
}

export interface ParsedDatabaseUrl {
  dialect: DialectName;
  /** SQLite: an absolute path or `:memory:`. PostgreSQL: the connection string without our parameters. */
  target: string;
  /** PostgreSQL only: the schema to use (created if missing). */
  schema?: string;
  /** PostgreSQL only: how long storage may keep a request waiting. */
  timeouts?: PgTimeouts;
}

/**
 * How long a PostgreSQL operation may wait, in milliseconds (0: no limit). Set with the URL parameters
 * `lock_timeout`, `statement_timeout` (PostgreSQL's own settings: `2s`, `500ms`, bare numbers are
 * milliseconds) and `connect_timeout` (libpq's: bare numbers are seconds). A request that runs into one
 * is answered 503 with Retry-After instead of hanging for as long as a lock is held or the network is cut.
 */
export interface PgTimeouts {
  /** Waiting for a row or table lock (`lock_timeout`). */
  lockMs: number;
  /** One statement, measured by the server (`statement_timeout`); our side gives up 1 s later. */
  statementMs: number;
  /** Opening a connection, or waiting for a free one in the pool (`connect_timeout`). */
  connectMs: number;
}

export const pgTimeoutDefaults: PgTimeouts = { lockMs: 2000, statementMs: 5000, connectMs: 5000 };

const schemaName = /^[a-z_][a-z0-9_]{0,62}$/;

const timeoutParams = {
  lock_timeout: { key: 'lockMs', bareUnitMs: 1 },
  statement_timeout: { key: 'statementMs', bareUnitMs: 1 },
  connect_timeout: { key: 'connectMs', bareUnitMs: 1000 },
} as const;

const unitMs: Record<string, number> = { ms: 1, s: 1000, min: 60_000 };

function parseTimeout(name: string, text: string, bareUnitMs: number): number {
  const m = /^(\d{1,9})\s*(ms|s|min)?$/.exec(text.trim());
  if (!m) throw new DatabaseUrlError(`${name} must be a duration such as 2s, 500ms or 0 (no limit)`);
  return Number(m[1]) * (m[2] ? (unitMs[m[2]] ?? 1) : bareUnitMs);
}

/** Parses `sqlite:PATH`, `sqlite::memory:` or `postgres://…[?schema=NAME]`. */
export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new DatabaseUrlError('sqlite URL needs a path: sqlite:./clavis.db');
    return { dialect: 'sqlite', target: path === ':memory:' ? path : resolve(path) };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new DatabaseUrlError('malformed PostgreSQL URL');
    }
    const schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    if (schema !== undefined && !schemaName.test(schema)) {
      throw new DatabaseUrlError('schema must match [a-z_][a-z0-9_]*');
    }
    const timeouts = { ...pgTimeoutDefaults };
    for (const [name, { key, bareUnitMs }] of Object.entries(timeoutParams)) {
      const text = parsed.searchParams.get(name);
      if (text !== null) timeouts[key] = parseTimeout(name, text, bareUnitMs);
      // Never left for pg to read: it would take `2s` for 2 ms.
      parsed.searchParams.delete(name);
    }
    return { dialect: 'postgres', target: parsed.toString(), ...(schema ? { schema } : {}), timeouts };
  }
  throw new DatabaseUrlError('database URL must start with sqlite: or postgres://');
}

function describe(parsed: ParsedDatabaseUrl): string {
  if (parsed.dialect === 'sqlite') return `sqlite:${parsed.target}`;
  const u = new URL(parsed.target);
  u.password = '';
  return `${u.toString()}${parsed.schema ? ` (schema ${parsed.schema})` : ''}`;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL pool size per instance. */
  poolSize?: number;
  /** Skip migrations (for tools that must not change the schema). */
  migrate?: boolean;
  /**
   * Whether a database that is not there may be created (the SQLite file and its folder, the PostgreSQL
   * schema and tables). Default true; without it a missing one is a `DatabaseMissingError`.
   */
  create?: boolean;
  /**
   * PostgreSQL: hold a connection listening for other instances' changes, so clients, API keys and
   * revocations can be cached exactly (`PgChangeListener`). For serving; a one-shot command needs none.
   */
  listenForChanges?: boolean | ChangeListenerOptions;
  /**
   * SQLite: take checkpoints on a worker thread rather than inside commits on the event loop (for
   * serving; a one-shot command needs no thread). `onFallback` hears if they go back to the main thread.
   */
  backgroundCheckpoints?: boolean | { onFallback(reason: string): void };
}

export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<OpenedDatabase> {
  const parsed = parseDatabaseUrl(url);
  let db: Kysely<Database>;
  if (parsed.dialect === 'sqlite') {
    if (parsed.target !== ':memory:') {
      if (options.create === false && !existsSync(parsed.target)) throw missing(parsed.target);
      mkdirSync(dirname(parsed.target), { recursive: true });
    }
    const checkpoints = options.backgroundCheckpoints;
    const dialect = new NodeSqliteDialect({
      path: parsed.target,
      backgroundCheckpoints: Boolean(checkpoints),
      ...(typeof checkpoints === 'object' ? { onCheckpointFallback: checkpoints.onFallback } : {}),
    });
    db = new Kysely<Database>({ dialect });
    // Kysely creates the driver lazily; make it exist now so the fast paths can find it.
    await sql`select 1`.execute(db);
    if (dialect.driver) {
      registerSyncDriver(db, dialect.driver);
      guardTransactions(db, dialect.driver);
    }
    try {
      if (options.create === false && parsed.target !== ':memory:') {
        const found =
          await sql`select 1 from sqlite_master where type = 'table' and name = 'kysely_migration'`.execute(
            db,
          );
        if (found.rows.length === 0) throw missing(parsed.target);
      }
      if (options.migrate !== false) await migrate(db);
    } catch (err) {
      await db.destroy();
      throw err;
    }
  } else {
    // pg is loaded only for PostgreSQL: a SQLite start does not pay for it.
    const { pgKysely, pgPoolConfigs } = await import('./pg_pool.js');
    const configs = pgPoolConfigs(parsed, options.poolSize ?? 10);
    const setup = pgKysely(configs.setup).db;
    try {
      if (options.create === false) {
        const schema = parsed.schema ?? null;
        const found = await sql<{
          present: boolean;
        }>`select to_regclass(format('%I.kysely_migration', coalesce(${schema}::text, current_schema()))) is not null as present`.execute(
          setup,
        );
        if (!found.rows[0]?.present) throw missing(describe(parsed));
      }
      if (parsed.schema && options.create !== false) {
        try {
          await sql`create schema if not exists ${sql.id(parsed.schema)}`.execute(setup);
        } catch (err) {
          // Instances starting together race here: PostgreSQL reports the loser's IF NOT EXISTS as a
          // unique violation on pg_namespace. The schema exists either way.
          if (!isUniqueViolation(err)) throw err;
        }
      }
      if (options.migrate !== false) {
        // Name the schema the tables live in (see `migrate`).
        const schema =
          parsed.schema ??
          (await sql<{ s: string | null }>`select current_schema() as s`.execute(setup)).rows[0]?.s ??
          undefined;
        await migrate(setup, schema);
      }
    } finally {
      await setup.destroy();
    }
    const session = pgKysely(configs.session);
    db = session.db;
    registerPgPool(db, session.pool);
    if (options.listenForChanges) {
      const { PgChangeListener } = await import('./change_listener.js');
      const changes = await PgChangeListener.start(
        configs.setup,
        options.listenForChanges === true ? {} : options.listenForChanges,
      );
      registerCommitVersion(db, changes);
      const pgDb = db;
      return {
        db,
        dialect: parsed.dialect,
        description: describe(parsed),
        changes,
        close: async () => {
          await changes.close();
          await pgDb.destroy();
        },
      };
    }
  }
  return { db, dialect: parsed.dialect, description: describe(parsed), close: () => db.destroy() };
}

/**
 * Whether every migration is already applied, and nothing else: one query of the migration table, instead
 * of the migrator's table introspection and locking (most of a restart's time on PostgreSQL). Anything
 * else — no table yet, a migration missing, one this version does not know — is left to the migrator.
 */
async function isMigrated(db: Kysely<Database>, schema?: string): Promise<boolean> {
  const table = schema ? sql.table(`${schema}.kysely_migration`) : sql.table('kysely_migration');
  try {
    const { rows } = await sql<{ name: string }>`select name from ${table}`.execute(db);
    const known = Object.keys(migrations);
    return rows.length === known.length && rows.every((r) => Object.hasOwn(migrations, r.name));
  } catch {
    return false;
  }
}

/**
 * Applies pending migrations. On PostgreSQL, `schema` must be the schema the tables live in: without it
 * Kysely's migrator takes a `kysely_migration` table in ANY schema of the database for ours, skips
 * creating it, and then fails (42P01) on a fresh schema beside another Clavis or Kysely schema.
 */
export async function migrate(db: Kysely<Database>, schema?: string): Promise<void> {
  if (await isMigrated(db, schema)) return;
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  // PostgreSQL serialises migrators with an advisory lock. SQLite has none: a second process opening a
  // new file at the same moment can lose the race to record a migration; its statements are idempotent,
  // so it tries again and finds the work done. On PostgreSQL, Kysely's table introspection reads every
  // schema of the database and fails (3F000, 42703 from pg_get_serial_sequence) when another schema is
  // dropped at that moment; each migration runs in a transaction, so trying again is safe there too.
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) return;
    if (attempt < 5) {
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      continue;
    }
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed`, { cause: error });
  }
}
