/**
 * Hand-written SQL for the few statements on every request's path (client lookup, revocation check,
 * audit inserts, replay markers). Kysely builds and compiles an AST per call, which costs more than the
 * SQLite query itself; these run through the same driver and connection (so transactions and the
 * SQLite mutex hold) with their text written once, in `?` style, and numbered for PostgreSQL.
 */
import { createHash } from 'node:crypto';
import { CompiledQuery, type Kysely, SqliteAdapter } from 'kysely';
import type pg from 'pg';
import type { NodeSqliteDriver } from './dialects/node_sqlite.js';

// biome-ignore lint/suspicious/noExplicitAny: the raw path is schema-agnostic by design.
type AnyDb = Kysely<any>;

const numbered = new Map<string, string>();
const syncDrivers = new WeakMap<AnyDb, NodeSqliteDriver>();
const pgPools = new WeakMap<AnyDb, pg.Pool>();
const statementNames = new Map<string, string>();

/**
 * Registers the pg pool behind a root PostgreSQL handle: statements outside a transaction then go to the
 * pool as named prepared statements (parsed and planned once per connection, not per call).
 */
export function registerPgPool(db: AnyDb, pool: pg.Pool): void {
  pgPools.set(db, pool);
}

/** The pg pool's use behind a root PostgreSQL handle (open, idle, waiting), or undefined elsewhere. */
export function pgPoolUse(db: AnyDb): { total: number; idle: number; waiting: number } | undefined {
  const pool = pgPools.get(db);
  return pool && { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
}

/** The pg pool behind a root PostgreSQL handle (for tools that watch it, such as statement counts). */
export function pgPoolOf(db: AnyDb): pg.Pool | undefined {
  return pgPools.get(db);
}

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `clavis_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** Registers the node:sqlite driver behind `db`, enabling the synchronous fast paths for it. */
export function registerSyncDriver(db: AnyDb, driver: NodeSqliteDriver): void {
  syncDrivers.set(db, driver);
}

/**
 * The synchronous driver behind `db`, if it is a root SQLite handle. A transaction handle has none:
 * its statements must go through the transaction's connection.
 */
export function syncDriver(db: AnyDb): NodeSqliteDriver | undefined {
  return syncDrivers.get(db);
}

export function isSqlite(db: AnyDb): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}

function forDialect(db: AnyDb, text: string): string {
  if (isSqlite(db)) return text;
  let out = numbered.get(text);
  if (out === undefined) {
    let n = 0;
    out = text.replace(/\?/g, () => `$${++n}`);
    numbered.set(text, out);
  }
  return out;
}

/** `value`, once every commit it could reflect is durable (see `NodeSqliteDriver.settled`). */
function settledValue<T>(driver: NodeSqliteDriver | undefined, value: T): T | Promise<T> {
  const durable = driver?.settled();
  return durable ? durable.then(() => value) : value;
}

export async function rawRows<R>(db: AnyDb, text: string, params: readonly unknown[]): Promise<R[]> {
  const driver = syncDrivers.get(db);
  const direct = driver?.tryExclusive((c) => c.runSync(text, params).rows as R[]);
  if (direct) return settledValue(driver, direct.value);
  const pool = pgPools.get(db);
  if (pool) {
    const sqlText = forDialect(db, text);
    const result = await pool.query({ name: statementName(sqlText), text: sqlText, values: [...params] });
    return result.rows as R[];
  }
  const result = await db.executeQuery<R>(CompiledQuery.raw(forDialect(db, text), [...params]));
  return result.rows;
}

/**
 * Runs a statement; resolves to its rows and, for a statement without rows on SQLite (any statement on
 * PostgreSQL), the number of rows it changed.
 */
export async function rawRun(
  db: AnyDb,
  text: string,
  params: readonly unknown[],
): Promise<{ rows: unknown[]; changes: number }> {
  const driver = syncDrivers.get(db);
  const direct = driver?.tryExclusive((c) => c.runSync(text, params));
  if (direct) return settledValue(driver, direct.value);
  const pool = pgPools.get(db);
  if (pool) {
    const sqlText = forDialect(db, text);
    const result = await pool.query({ name: statementName(sqlText), text: sqlText, values: [...params] });
    return { rows: result.rows, changes: result.rowCount ?? 0 };
  }
  const result = await db.executeQuery(CompiledQuery.raw(forDialect(db, text), [...params]));
  return { rows: result.rows as unknown[], changes: Number(result.numAffectedRows ?? 0n) };
}

/** Runs a statement that returns no rows; resolves to the number of rows it changed. */
export async function rawExec(db: AnyDb, text: string, params: readonly unknown[]): Promise<number> {
  const driver = syncDrivers.get(db);
  const direct = driver?.tryExclusive((c) => c.runSync(text, params).changes);
  if (direct) return settledValue(driver, direct.value);
  const pool = pgPools.get(db);
  if (pool) {
    const sqlText = forDialect(db, text);
    const result = await pool.query({ name: statementName(sqlText), text: sqlText, values: [...params] });
    return result.rowCount ?? 0;
  }
  const result = await db.executeQuery(CompiledQuery.raw(forDialect(db, text), [...params]));
  return Number(result.numAffectedRows ?? 0n);
}
