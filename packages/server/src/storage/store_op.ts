/**
 * A store operation written once — its SQL and the logic between its statements — and run either way
 * the storage needs it:
 *
 * - `runOpSync(connection, op)`: synchronously on SQLite's one connection, by code already holding it
 *   (the audit log's group commit runs ops inside its batch transaction, one savepoint each, no promise
 *   per statement);
 * - `runOp(db, op)`: asynchronously on any handle, a root database or a transaction, SQLite or
 *   PostgreSQL (`?` placeholders are numbered for PostgreSQL).
 *
 * An op is a generator of statements: it yields each statement and is handed that statement's result
 * back, so an op of several statements (`recordPoll`: the on-time slot, else the slow-down) keeps its
 * control flow in one place. It may yield different SQL per dialect (the audit insert batches rows in
 * one `unnest` on PostgreSQL); otherwise its text is the same on both.
 */
import type { Kysely } from 'kysely';
import type { SyncConnection } from './dialects/node_sqlite.js';
import { isSqlite, rawRun } from './raw.js';

export type SqlDialect = 'sqlite' | 'postgres';

/** One statement of an op, in `?` placeholder style. */
export interface SqlStep {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/**
 * What a statement returned: its rows (a `select` or a `… returning`), and for a statement without
 * rows the number of rows it changed. A statement that returns rows reports `changes: 0` on SQLite, so
 * an op reads `rows` for those and `changes` for the others.
 */
export interface StepResult {
  readonly rows: readonly unknown[];
  readonly changes: number;
}

export interface StoreOp<T> {
  /** Yields the op's statements in order, each handed its result; returns the op's result. */
  steps(dialect: SqlDialect): Generator<SqlStep, T, StepResult>;
}

/**
 * An op of one statement whose result `read` turns into the op's result. The runners take it without a
 * generator: most ops are one statement, and on the hot path a generator per call costs more than it.
 * (An op of several statements should likewise not create a generator function per call: return
 * `{ steps: (dialect) => moduleLevelGenerator(dialect, …args) }`.)
 */
export class Statement<T> implements StoreOp<T>, SqlStep {
  readonly sql: string;
  readonly params: readonly unknown[];
  readonly read: (result: StepResult) => T;

  constructor(sql: string, params: readonly unknown[], read: (result: StepResult) => T) {
    this.sql = sql;
    this.params = params;
    this.read = read;
  }

  *steps(): Generator<SqlStep, T, StepResult> {
    return this.read(yield this);
  }
}

export function statement<T>(
  sql: string,
  params: readonly unknown[],
  read: (result: StepResult) => T,
): Statement<T> {
  return new Statement(sql, params, read);
}

/** For a statement whose result is nothing. */
export const nothing = (): undefined => undefined;

/** Runs `op` on `db` (a root handle or a transaction), statement by statement. */
export async function runOp<T>(
  // biome-ignore lint/suspicious/noExplicitAny: ops carry their own SQL and run on a handle of any schema.
  db: Kysely<any>,
  op: StoreOp<T>,
): Promise<T> {
  if (op instanceof Statement) return op.read(await rawRun(db, op.sql, op.params));
  const steps = op.steps(isSqlite(db) ? 'sqlite' : 'postgres');
  let next = steps.next();
  while (!next.done) {
    const result = await rawRun(db, next.value.sql, next.value.params);
    next = steps.next(result);
  }
  return next.value;
}

/** Runs `op` synchronously on SQLite's connection, held by the caller (inside its transaction). */
export function runOpSync<T>(connection: SyncConnection, op: StoreOp<T>): T {
  if (op instanceof Statement) return op.read(connection.runSync(op.sql, op.params));
  const steps = op.steps('sqlite');
  let next = steps.next();
  while (!next.done) {
    next = steps.next(connection.runSync(next.value.sql, next.value.params));
  }
  return next.value;
}
