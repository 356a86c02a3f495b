/**
 * Opening the database named by a `--db` URL: `sqlite:PATH` (the default, one file, WAL) or
 * `postgres://…` (many instances share it). Migrations run on open, under the migrator's lock.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { guardTransactions, NodeSqliteDialect } from './dialects/node_sqlite.js';
import { isUniqueViolation } from './errors.js';
import { migrationProvider } from './migrations/index.js';
import { registerPgPool, registerSyncDriver } from './raw.js';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Where the data lives, for people (never includes a password). */
  description: string;
  close(): Promise<void>;
}

export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError';
}

export interface ParsedDatabaseUrl {
  dialect: DialectName;
  /** SQLite: an absolute path or `:memory:`. PostgreSQL: the connection string without `schema`. */
  target: string;
  /** PostgreSQL only: the schema to use (created if missing). */
  schema?: string;
}

const schemaName = /^[a-z_][a-z0-9_]{0,62}$/;

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
    return { dialect: 'postgres', target: parsed.toString(), ...(schema ? { schema } : {}) };
  }
  throw new DatabaseUrlError('database URL must start with sqlite: or postgres://');
}

function describe(parsed: ParsedDatabaseUrl): string {
  if (parsed.dialect === 'sqlite') return `sqlite:${parsed.target}`;
  const u = new URL(parsed.target);
  u.password = '';
  return `${u.toString()}${parsed.schema ? ` (schema ${parsed.schema})` : ''}`;
}

// PostgreSQL int8 (our millisecond times) as JS numbers; they stay far below 2^53.
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface OpenDatabaseOptions {
  /** PostgreSQL pool size per instance. */
  poolSize?: number;
  /** Skip migrations (for tools that must not change the schema). */
  migrate?: boolean;
}

export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<OpenedDatabase> {
  const parsed = parseDatabaseUrl(url);
  let db: Kysely<Database>;
  if (parsed.dialect === 'sqlite') {
    if (parsed.target !== ':memory:') mkdirSync(dirname(parsed.target), { recursive: true });
    const dialect = new NodeSqliteDialect({ path: parsed.target });
    db = new Kysely<Database>({ dialect });
    // Kysely creates the driver lazily; make it exist now so the fast paths can find it.
    await sql`select 1`.execute(db);
    if (dialect.driver) {
      registerSyncDriver(db, dialect.driver);
      guardTransactions(db, dialect.driver);
    }
  } else {
    const pool = new pg.Pool({
      connectionString: parsed.target,
      max: options.poolSize ?? 10,
      types: pgTypes,
      connectionTimeoutMillis: 5000,
      ...(parsed.schema ? { options: `-c search_path=${parsed.schema}` } : {}),
    });
    // A connection that loses its server must not crash the process, whether idle in the pool or checked
    // out between two statements: the next query on it fails (503), and the pool discards it.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    registerPgPool(db, pool);
    if (parsed.schema) {
      try {
        await sql`create schema if not exists ${sql.id(parsed.schema)}`.execute(db);
      } catch (err) {
        // Instances starting together race here: PostgreSQL reports the loser's IF NOT EXISTS as a
        // unique violation on pg_namespace. The schema exists either way.
        if (!isUniqueViolation(err)) {
          await db.destroy();
          throw err;
        }
      }
    }
  }
  try {
    if (options.migrate !== false) {
      // PostgreSQL: name the schema the tables live in (see `migrate`); SQLite has only one.
      const schema =
        parsed.dialect === 'postgres'
          ? (parsed.schema ??
            (await sql<{ s: string | null }>`select current_schema() as s`.execute(db)).rows[0]?.s ??
            undefined)
          : undefined;
      await migrate(db, schema);
    }
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, dialect: parsed.dialect, description: describe(parsed), close: () => db.destroy() };
}

/**
 * Applies pending migrations. On PostgreSQL, `schema` must be the schema the tables live in: without it
 * Kysely's migrator takes a `kysely_migration` table in ANY schema of the database for ours, skips
 * creating it, and then fails (42P01) on a fresh schema beside another Clavis or Kysely schema.
 */
export async function migrate(db: Kysely<Database>, schema?: string): Promise<void> {
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
