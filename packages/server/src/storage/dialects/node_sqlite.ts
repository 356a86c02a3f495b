/**
 * A Kysely dialect over Node's built-in `node:sqlite` (no native build at install time).
 *
 * One connection per database file, guarded by a mutex so a transaction is never interleaved with other
 * queries; prepared statements are cached by SQL text. The file runs in WAL mode, and a committed write
 * survives `kill -9` and power loss before anything is handed back: the log is synced off the event loop
 * after the commit (`WalDurability`), not inside it. A serving process also takes its checkpoints on a
 * worker thread (`WalCheckpointer`). The file and its `-wal` and `-shm` are readable by the owner only
 * (they hold password hashes and live user codes).
 *
 * Another process holding the write lock (an admin command, a backup) must not freeze this one:
 * node:sqlite waits for a lock synchronously, blocking the event loop, so its busy timeout is short
 * (`busyTimeoutMs`), and a statement or transaction that could not start for the lock is tried again
 * asynchronously, with backoff and the connection released meanwhile, for up to `lockWaitMs`; then
 * SQLITE_BUSY reaches the caller (a 503 with Retry-After).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type TransactionBuilder,
} from 'kysely';
import { type CheckpointResult, WalCheckpointer } from './wal_checkpointer.js';
import { type SyncFile, WalDurability } from './wal_durability.js';

/** Statements that begin or end a transaction or a savepoint (run with `exec`, never prepared). */
const TRANSACTION_CONTROL = /^\s*(begin|commit|end|rollback|savepoint|release)\b/i;
/** A rollback: of the whole transaction when none is open after it, else to a savepoint. */
const ROLLBACK = /^\s*rollback\b/i;

interface NodeSqliteOptions {
  /** File path, or `:memory:`. */
  path: string;
  /** How long one attempt waits, blocking, for another process's lock (ms, default 10). */
  busyTimeoutMs?: number;
  /** How long the attempts may go on, waiting asynchronously in between (ms, default 5000). */
  lockWaitMs?: number;
  /**
   * Take checkpoints on a worker thread instead of inside commits on this one (default false): for a
   * long-running server; a short command is better off without the thread.
   */
  backgroundCheckpoints?: boolean;
  /** How the write-ahead log is synced (default `fdatasync` on the thread pool); for fault tests. */
  syncFile?: SyncFile;
  /** Told once if checkpoints fall back to the main thread (the worker failed). */
  onCheckpointFallback?: (reason: string) => void;
}

/** SQLITE_BUSY: another connection holds the lock. */
function isBusy(err: unknown): boolean {
  const e = err as { code?: unknown; errcode?: unknown } | null;
  return e?.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number' && (e.errcode & 0xff) === 5;
}

/** Backoff between attempts for the lock: 5, 10, 20, 40, 80, then 100 ms. */
function lockBackoffMs(attempt: number): number {
  return Math.min(100, 5 * 2 ** attempt);
}

type SqliteValue = null | number | bigint | string | Uint8Array;

/** Direct, synchronous use of the one connection, for code holding it through `exclusive`. */
export interface SyncConnection {
  runSync(sql: string, params: readonly unknown[]): { rows: unknown[]; changes: number };
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * The transaction the current async context runs inside, if it was started through a guarded handle (see
 * `guardTransactions`): `open` from BEGIN until COMMIT or ROLLBACK.
 */
interface TransactionScope {
  driver: NodeSqliteDriver;
  open: boolean;
}

const transactionScope = new AsyncLocalStorage<TransactionScope>();

/** Thrown instead of waiting forever for the connection the caller's own transaction holds. */
class SelfDeadlockError extends Error {
  override name = 'SelfDeadlockError';
  constructor() {
    super(
      'a query went through the root database handle inside a transaction on the same SQLite connection; ' +
        'it would wait for that transaction forever (use the transaction handle, or do it before the transaction)',
    );
  }
}

class NodeSqliteConnection implements DatabaseConnection {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, { stmt: StatementSync; reader: boolean }>();
  readonly #waitForLock: (attempt: number, started: number) => Promise<boolean>;
  /** Statements that changed something (or began a transaction), ever: a retry must follow none. */
  writes = 0;
  /** Writes that ended outside a transaction (autocommitted statements, COMMITs), ever. */
  commits = 0;
  /** Whether the open transaction ran a statement that may have written. */
  #transactionWrote = false;

  /**
   * `waitForLock` releases the connection, waits before attempt `attempt` and takes it back; it
   * resolves false once the attempts started at `started` have gone on long enough.
   */
  constructor(db: DatabaseSync, waitForLock: (attempt: number, started: number) => Promise<boolean>) {
    this.#db = db;
    this.#waitForLock = waitForLock;
  }

  /** Whether a failure for the lock left nothing done, so the same work may simply be tried again. */
  retryable(err: unknown, writesBefore: number): boolean {
    return isBusy(err) && this.writes === writesBefore && !this.#db.isTransaction;
  }

  #prepare(sql: string): { stmt: StatementSync; reader: boolean } {
    let entry = this.#statements.get(sql);
    if (!entry) {
      const stmt = this.#db.prepare(sql);
      entry = { stmt, reader: stmt.columns().length > 0 };
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(sql, entry);
    }
    return entry;
  }

  /** Runs a statement synchronously: rows for a reader, else the number of rows changed. */
  runSync(sql: string, params: readonly unknown[]): { rows: unknown[]; changes: number } {
    if (params.length === 0 && TRANSACTION_CONTROL.test(sql)) {
      this.#db.exec(sql);
      this.#controlled(sql);
      return { rows: [], changes: 0 };
    }
    const { stmt, reader } = this.#prepare(sql);
    if (reader) return { rows: stmt.all(...(params as SqliteValue[])), changes: 0 };
    const changes = Number(stmt.run(...(params as SqliteValue[])).changes);
    this.#wrote();
    return { rows: [], changes };
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      const writesBefore = this.writes;
      try {
        return this.#executeOnce<R>(compiled);
      } catch (err) {
        if (!this.retryable(err, writesBefore) || !(await this.#waitForLock(attempt, started))) throw err;
      }
    }
  }

  #executeOnce<R>(compiled: CompiledQuery): QueryResult<R> {
    const params = compiled.parameters as SqliteValue[];
    if (params.length === 0 && TRANSACTION_CONTROL.test(compiled.sql)) {
      this.#db.exec(compiled.sql);
      this.#controlled(compiled.sql);
      return { rows: [] };
    }
    const { stmt, reader } = this.#prepare(compiled.sql);
    if (reader) return { rows: stmt.all(...params) as R[] };
    const { changes, lastInsertRowid } = stmt.run(...params);
    this.#wrote();
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  }

  /** After a statement that may have written: counts it, and a commit if no transaction is open now. */
  #wrote(): void {
    this.writes++;
    if (this.#db.isTransaction) this.#transactionWrote = true;
    else this.#committed();
  }

  /**
   * After a transaction-control statement: once no transaction is open any more, a commit if the
   * transaction wrote anything and was not rolled back. A read-only or rolled-back transaction left
   * nothing in the log, so it needs no sync (and gives the checkpointer no cue).
   */
  #controlled(sql: string): void {
    this.writes++;
    if (this.#db.isTransaction) return;
    const wrote = this.#transactionWrote;
    this.#transactionWrote = false;
    if (wrote && !ROLLBACK.test(sql)) this.#committed();
  }

  #committed(): void {
    this.commits++;
    this.onCommit?.();
  }

  /** Told after every commit (the checkpointer's cue). */
  onCommit: (() => void) | undefined;

  // biome-ignore lint/correctness/useYield: streaming is not offered by this driver; the method must exist.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('node:sqlite driver does not stream');
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }
}

/** A FIFO mutex: one holder at a time; on release the connection passes straight to the next waiter. */
class Mutex {
  #locked = false;
  #waiters: Array<() => void> = [];
  #head = 0;

  tryLock(): boolean {
    if (this.#locked) return false;
    this.#locked = true;
    return true;
  }

  lock(): Promise<void> {
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  unlock(): void {
    if (this.#head < this.#waiters.length) {
      const next = this.#waiters[this.#head] as () => void;
      this.#head++;
      if (this.#head === this.#waiters.length) {
        this.#waiters = [];
        this.#head = 0;
      }
      next();
    } else {
      this.#locked = false;
    }
  }
}

/**
 * Creates the database file 0600 before SQLite opens it (so no byte is ever written to a file others can
 * read; SQLite then creates its `-wal` and `-shm` with the same mode), and takes group and other access
 * away from a database, `-wal` or `-shm` left readable by an earlier version or a copy. A file this process
 * does not own is left as it is (only its owner may change its mode).
 */
function ownerOnlyFiles(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if ((mode & 0o077) === 0) continue;
    try {
      chmodSync(file, mode & 0o700);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    }
  }
}

export class NodeSqliteDriver implements Driver {
  readonly #options: NodeSqliteOptions;
  readonly #mutex = new Mutex();
  #connection: NodeSqliteConnection | undefined;
  #durability: WalDurability | undefined;
  #checkpointer: WalCheckpointer | undefined;

  constructor(options: NodeSqliteOptions) {
    this.#options = options;
  }

  async init(): Promise<void> {
    const { path } = this.#options;
    if (path !== ':memory:') ownerOnlyFiles(path);
    const db = new DatabaseSync(path, { timeout: this.#options.busyTimeoutMs ?? 10 });
    // Switching a new file to WAL needs its lock: another process creating it at the same moment holds it.
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      try {
        db.exec('PRAGMA journal_mode = WAL');
        break;
      } catch (err) {
        const wait = lockBackoffMs(attempt);
        if (!isBusy(err) || performance.now() - started + wait > (this.#options.lockWaitMs ?? 5000)) {
          db.close();
          throw err;
        }
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    // SQLite gives a new -wal/-shm the database file's mode; this only catches ones that already existed.
    if (path !== ':memory:') ownerOnlyFiles(path);
    db.exec('PRAGMA foreign_keys = ON');
    // Statement journals (a savepoint's, a statement's of several rows) in memory: once past 64 KiB
    // SQLite spills them to a temporary file, and a group commit's page images went through the kernel
    // twice — about 40% of a commit's cost when its rows fall on scattered index pages.
    db.exec('PRAGMA temp_store = MEMORY');
    const connection = new NodeSqliteConnection(db, (attempt, started) =>
      this.#waitForLock(attempt, started),
    );
    if (path === ':memory:') {
      db.exec('PRAGMA synchronous = FULL');
    } else {
      // Commits write the log; `WalDurability` syncs it before any result is handed back.
      db.exec('PRAGMA synchronous = NORMAL');
      this.#durability = new WalDurability(`${path}-wal`, () => connection.commits, this.#options.syncFile);
      if (this.#options.backgroundCheckpoints) {
        db.exec('PRAGMA wal_autocheckpoint = 0');
        // A log that did grow (another process's long read held it) is cut back when it starts again.
        db.exec('PRAGMA journal_size_limit = 67108864');
        const checkpointer = new WalCheckpointer(
          path,
          (work) => this.#whileHeld(work),
          (reason) => {
            if (this.#checkpointer !== checkpointer) return;
            connection.onCommit = undefined;
            this.#checkpointer = undefined;
            try {
              db.exec('PRAGMA wal_autocheckpoint = 1000');
            } catch {
              // Closed meanwhile: nothing left to checkpoint from here.
            }
            this.#options.onCheckpointFallback?.(reason);
          },
        );
        this.#checkpointer = checkpointer;
        connection.onCommit = () => checkpointer.committed();
      }
    }
    this.#connection = connection;
  }

  /** Runs `work` holding the connection (waiting its turn), so no statement of this process interleaves. */
  async #whileHeld<T>(work: () => Promise<T>): Promise<T> {
    await this.#mutex.lock();
    try {
      return await work();
    } finally {
      this.#mutex.unlock();
    }
  }

  /**
   * Resolves once every commit made on the connection so far is durable (undefined if all are): a
   * caller holding a result read or written through the connection waits for it before handing the
   * result on, so nothing is acknowledged, or shown, that a power loss could still take back.
   */
  settled(): Promise<void> | undefined {
    return this.#durability?.settled();
  }

  /** Takes a checkpoint now on the worker, if this driver has one (tests; the timer does it otherwise). */
  checkpoint(): Promise<CheckpointResult> | undefined {
    return this.#checkpointer?.checkpoint();
  }

  /**
   * Between two attempts for another process's lock: lets others use the connection (no transaction is
   * open on it), waits, and takes it back. False once `lockWaitMs` has passed since `started`.
   */
  async #waitForLock(attempt: number, started: number): Promise<boolean> {
    const wait = lockBackoffMs(attempt);
    if (performance.now() - started + wait > (this.#options.lockWaitMs ?? 5000)) return false;
    this.#mutex.unlock();
    await new Promise((resolve) => setTimeout(resolve, wait));
    await this.#mutex.lock();
    if (!this.#connection) throw new Error('database is closed');
    return true;
  }

  /**
   * The one connection is held by a transaction started in this very async context: waiting for it would
   * never end, since the transaction only finishes once this caller does.
   */
  #assertNotInOwnTransaction(): void {
    const scope = transactionScope.getStore();
    if (scope?.driver === this && scope.open) throw new SelfDeadlockError();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    this.#assertNotInOwnTransaction();
    await this.#mutex.lock();
    if (!this.#connection) {
      this.#mutex.unlock();
      throw new Error('database is closed');
    }
    return this.#connection;
  }

  /**
   * Runs `fn` with the connection to itself, synchronously, as soon as no transaction holds it: no
   * promise per statement, nothing can interleave. Used for the hot paths (lookups, audit batches).
   */
  async exclusive<T>(fn: (connection: SyncConnection) => T): Promise<T> {
    const value = await this.#exclusive(fn);
    const durable = this.settled();
    if (durable) await durable;
    return value;
  }

  async #exclusive<T>(fn: (connection: SyncConnection) => T): Promise<T> {
    this.#assertNotInOwnTransaction();
    await this.#mutex.lock();
    try {
      const started = performance.now();
      for (let attempt = 0; ; attempt++) {
        const connection = this.#connection;
        if (!connection) throw new Error('database is closed');
        const writesBefore = connection.writes;
        try {
          return fn(connection);
        } catch (err) {
          if (!connection.retryable(err, writesBefore) || !(await this.#waitForLock(attempt, started)))
            throw err;
        }
      }
    } finally {
      this.#mutex.unlock();
    }
  }

  /**
   * Like `exclusive`, but only if the connection is free right now and no other process holds the lock
   * `fn` needs; else undefined (the caller then takes the asynchronous path, which waits for both).
   * Unlike `exclusive` it cannot wait for durability: a caller handing on what `fn` read or wrote awaits
   * `settled()` first.
   */
  tryExclusive<T>(fn: (connection: SyncConnection) => T): { value: T } | undefined {
    const connection = this.#connection;
    if (!connection || !this.#mutex.tryLock()) return undefined;
    const writesBefore = connection.writes;
    try {
      return { value: fn(connection) };
    } catch (err) {
      if (connection.retryable(err, writesBefore)) return undefined;
      throw err;
    } finally {
      this.#mutex.unlock();
    }
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    // IMMEDIATE takes the write lock up front, so a transaction never fails half-way on lock upgrade.
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    this.#markTransaction(true);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw('commit'));
    } finally {
      this.#markTransaction(false);
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw('rollback'));
    } finally {
      this.#markTransaction(false);
    }
  }

  #markTransaction(open: boolean): void {
    const scope = transactionScope.getStore();
    if (scope?.driver === this) scope.open = open;
  }

  /** Runs `start`, which begins a transaction on this driver, with the self-deadlock assertion armed. */
  guarded<T>(start: () => Promise<T>): Promise<T> {
    return transactionScope.run({ driver: this, open: false }, start);
  }

  async releaseConnection(): Promise<void> {
    this.#mutex.unlock();
    const durable = this.settled();
    if (durable) await durable;
  }

  async destroy(): Promise<void> {
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    await checkpointer?.close();
    // Closing the last connection checkpoints the log into the file and syncs it.
    this.#connection?.close();
    this.#connection = undefined;
    await this.#durability?.close();
  }
}

/**
 * Makes every `db.transaction().execute(…)` on `db` carry the self-deadlock assertion: inside the
 * transaction, a statement sent through `db` itself (rather than the transaction handle) throws
 * `SelfDeadlockError` at once instead of queueing behind the transaction that is waiting for it.
 */
// biome-ignore lint/suspicious/noExplicitAny: works on a handle of any schema.
export function guardTransactions(db: Kysely<any>, driver: NodeSqliteDriver): void {
  const transaction = db.transaction.bind(db);
  db.transaction = () => guardBuilder(transaction(), driver);
}

// biome-ignore lint/suspicious/noExplicitAny: works on a builder of any schema.
function guardBuilder<B extends TransactionBuilder<any>>(builder: B, driver: NodeSqliteDriver): B {
  return new Proxy(builder, {
    get(target, property) {
      if (property === 'execute') {
        return (callback: Parameters<B['execute']>[0]) => driver.guarded(() => target.execute(callback));
      }
      const value: unknown = Reflect.get(target, property, target);
      if (property === 'setAccessMode' || property === 'setIsolationLevel') {
        return (...args: unknown[]) =>
          guardBuilder((value as (...a: unknown[]) => B).apply(target, args), driver);
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * SQLite's adapter, but telling Kysely not to add its own connection mutex: that one wakes every waiter
 * on each release (quadratic under load), while this driver's FIFO mutex hands the connection straight
 * to the next waiter.
 */
class NodeSqliteAdapter extends SqliteAdapter {
  override get supportsMultipleConnections(): boolean {
    return true;
  }
}

export class NodeSqliteDialect implements Dialect {
  readonly #options: NodeSqliteOptions;

  constructor(options: NodeSqliteOptions) {
    this.#options = options;
  }

  /** The driver, once created: the synchronous fast paths reach it through `syncAccess`. */
  driver: NodeSqliteDriver | undefined;

  createDriver(): Driver {
    this.driver = new NodeSqliteDriver(this.#options);
    return this.driver;
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new NodeSqliteAdapter();
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's introspector takes a Kysely of any schema.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
