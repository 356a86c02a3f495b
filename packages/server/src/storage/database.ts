/**
 * Opening the database named by a `--db` URL: `sqlite:PATH` (the default, one file, WAL) or
 * `postgres://…` (many instances share it). Migrations run on open, under the migrator's lock.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { type ChangeListenerOptions, PgChangeListener } from './change_listener.js';
import { guardTransactions, NodeSqliteDialect } from './dialects/node_sqlite.js';
import { isUniqueViolation } from './errors.js';
import { registerCommitVersion } from './exact_cache.js';
import { migrationProvider } from './migrations/index.js';
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

// PostgreSQL int8 (our millisecond times) as JS numbers; they stay far below 2^53.
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The operating-system user, which PostgreSQL's own tools connect as when neither the URL nor `PGUSER`
 * names one (pg would fall back to `$USER`, which service managers and containers often leave unset).
 */
function osUserName(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return userInfo().username;
  } catch {
    // No password-file entry for this uid (some containers): pg's own default, `$USER`, is all there is.
    return env.USER || undefined;
  }
}

/**
 * A pg client that gives up on a query itself when the server has not answered `deadlineMs` after it
 * was sent: `statement_timeout` cannot fire when the network between us is cut. The connection is
 * destroyed (its pending queries fail, the pool drops it) rather than left with an answer in flight
 * that the next user of the connection would receive, or a transaction whose rollback never ran.
 */
function clientWithDeadline(deadlineMs: number): typeof pg.Client {
  return class DeadlineClient extends pg.Client {
    // biome-ignore lint/suspicious/noExplicitAny: forwards every overload of pg's query() unchanged.
    override query(...args: any[]): any {
      // biome-ignore lint/suspicious/noExplicitAny: see above.
      const query = super.query as (...a: any[]) => unknown;
      const timer = setTimeout(() => this.connection.stream.destroy(), deadlineMs);
      const done = () => clearTimeout(timer);
      const callback: unknown = args.at(-1);
      if (typeof callback === 'function') {
        // pool.query() (the raw fast path) passes a callback.
        args[args.length - 1] = (...results: unknown[]) => {
          done();
          return callback(...results);
        };
        return query.apply(this, args);
      }
      const result = query.apply(this, args);
      if (result instanceof Promise) result.then(done, done);
      else done(); // a Submittable (cursor) reports through its own events
      return result;
    }
  };
}

/**
 * The pg pool settings for a parsed PostgreSQL URL: `session` for serving (with the timeouts), `setup`
 * for creating the schema and migrating (without the lock and statement timeouts: a migration may take
 * long on a big table, and instances starting together queue behind one another's migration lock).
 */
export function pgPoolConfigs(
  parsed: ParsedDatabaseUrl,
  poolSize = 10,
  env: NodeJS.ProcessEnv = process.env,
): { session: pg.PoolConfig; setup: pg.PoolConfig } {
  const url = new URL(parsed.target);
  if (!url.username && !url.searchParams.get('user') && !env.PGUSER) {
    const user = osUserName(env);
    if (user) url.username = encodeURIComponent(user);
  }
  const t = parsed.timeouts ?? pgTimeoutDefaults;
  const setup: pg.PoolConfig = {
    connectionString: url.toString(),
    max: 2,
    types: pgTypes,
    connectionTimeoutMillis: t.connectMs,
    ...(parsed.schema ? { options: `-c search_path=${parsed.schema}` } : {}),
  };
  const session: pg.PoolConfig = {
    ...setup,
    max: poolSize,
    ...(t.lockMs > 0 ? { lock_timeout: t.lockMs } : {}),
    ...(t.statementMs > 0
      ? { statement_timeout: t.statementMs, Client: clientWithDeadline(t.statementMs + 1000) }
      : {}),
  };
  return { session, setup };
}

/** A Kysely over a new pg pool whose connections may fail without crashing the process. */
function pgKysely(config: pg.PoolConfig): { db: Kysely<Database>; pool: pg.Pool } {
  const pool = new pg.Pool(config);
  // A connection that loses its server must not crash the process, whether idle in the pool or checked
  // out between two statements: the next query on it fails (503), and the pool discards it.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), pool };
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
}

export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<OpenedDatabase> {
  const parsed = parseDatabaseUrl(url);
  let db: Kysely<Database>;
  if (parsed.dialect === 'sqlite') {
    if (parsed.target !== ':memory:') {
      if (options.create === false && !existsSync(parsed.target)) throw missing(parsed.target);
      mkdirSync(dirname(parsed.target), { recursive: true });
    }
    const dialect = new NodeSqliteDialect({ path: parsed.target });
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
