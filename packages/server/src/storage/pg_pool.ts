/**
 * The pg pool behind a PostgreSQL database: its settings per parsed URL (timeouts, the OS user, int8 as
 * numbers) and the Kysely over it. Loaded only when a PostgreSQL URL is opened (database.ts), so that
 * start-up on SQLite never loads pg.
 */
import { userInfo } from 'node:os';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { type ParsedDatabaseUrl, pgTimeoutDefaults } from './database.js';
import type { Database } from './schema.js';

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
export function pgKysely(config: pg.PoolConfig): { db: Kysely<Database>; pool: pg.Pool } {
  const pool = new pg.Pool(config);
  // A connection that loses its server must not crash the process, whether idle in the pool or checked
  // out between two statements: the next query on it fails (503), and the pool discards it.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), pool };
}
