/**
 * The append-only, hash-chained audit log.
 *
 * Each writer (a `clavis serve` process, a `clavis admin` invocation) owns a segment: its own chain, so
 * writers never contend for one chain head. Periodically, and on close, the writer seals its head into
 * the global seal chain; `audit verify` checks every segment and every seal. A live writer holds a lease
 * on its segment; once a lease lapses (a crash, an admin command that exited), `serve` seals that
 * segment's head for it, so no record stays unsealed for good.
 *
 * Writes are group-committed: records and the changes they describe queue up and are written in one
 * transaction, each change in its own savepoint, so the log costs one commit per batch instead of one
 * per request — and a change is never committed without its record, nor a record without its change.
 */
import type { KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import { type Kysely, sql, type Transaction } from 'kysely';
import { randomId } from '../crypto/secrets.js';
import { ApartBatcher, isBatchable } from '../storage/apart_batch.js';
import { notifyChanges } from '../storage/change_listener.js';
import {
  isStorageUnreachable,
  isTransientStorageError,
  isUniqueViolation,
  isUniqueViolationOn,
} from '../storage/errors.js';
import { syncDriver } from '../storage/raw.js';
import type { AuditEventsTable, AuditSealsTable, AuditSegmentsTable, Database } from '../storage/schema.js';
import { nothing, runOp, runOpSync, type SqlStep, type StoreOp, statement } from '../storage/store_op.js';
import { appendAuditRows } from './audit_store.js';
import { recordHash, SEAL_GENESIS, type SealFields, sealHash, segmentGenesis, signSeal } from './chain.js';
import type { AuditEntry } from './events.js';

/**
 * Bookkeeping that rides the group commit (a key's use count, a new device request's row): the values
 * of a batch's units are handed over together and written once, in the batch's transaction, before its
 * records — one statement per batch (and key) rather than one per unit. A failure (a row whose unique
 * value is taken) fails the whole batch, whose units are then committed one by one, so it fails only
 * the unit it came from.
 */
export interface BatchTally<V> {
  /** The op that writes a batch's values. */
  write(values: readonly V[]): StoreOp<void>;
  /**
   * The same writes as statements that use no result of one another, if they are: on PostgreSQL the
   * group commit may then send them with the batch's records as one statement (`with … insert`).
   */
  statements?(values: readonly V[]): SqlStep[];
}

/** At most this many tally statements ride one combined statement (each count is a prepared text). */
const MAX_COMBINED_TALLIES = 8;

/** How `AuditLog.run` may commit an op. */
export interface RunOptions {
  /**
   * The op's change may commit apart from, and before, its record: it is atomic and durable on its own
   * (a replay marker, a poll's timestamp) and its record, if any, only reports it. The log then commits
   * it the cheapest way: on SQLite still inside the batch (one fsync for both); on PostgreSQL as the
   * op's own autocommitted statements, which wait for no batch of records, its record (if any)
   * appended after — an op of a batchable kind in one statement with the others of its kind that
   * arrive together (`ApartBatcher`).
   * Default false: the change and its record commit together, or neither.
   */
  mayCommitApart?: boolean;
}

interface Unit {
  /** Async work, run in the batch's transaction (`transact`). */
  work?: ((tx: Transaction<Database>) => Promise<unknown>) | undefined;
  /** A store op, run in the batch's transaction: synchronously on SQLite (`run`). */
  op?: StoreOp<unknown> | undefined;
  tally?: { to: BatchTally<unknown>; value: unknown } | undefined;
  entry: AuditEntry | ((result: unknown) => AuditEntry | null);
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const MAX_BATCH = 512;

/** Told of every group commit: its units, how long it took (ms), and whether it failed as a whole. */
export type BatchListener = (units: number, ms: number, failed: boolean) => void;

/** Thrown to roll back a batch whose unguarded op failed: it is run again, every unit in a savepoint. */
class GuardEveryUnit extends Error {}

/** Thrown to roll back a batch of one unit whose work or op failed (its failure is its outcome). */
class LoneUnitFailed extends Error {}

/** How long a writer's segment lease lasts (5 seal intervals): once it lapses, `serve` seals the head. */
export const DEFAULT_LEASE_MS = 10_000;

interface AuditLogOptions {
  clock: () => number;
  /** The chain's HMAC key (derived from the KEK). */
  key: KeyObject;
  /** What this writer is, for people reading the segment list. */
  writer: string;
  /** The audit signing key (Ed25519 private key): only `serve` holds it; its seals are signed. */
  signer?: KeyObject | undefined;
  /** How long this writer's lease on its segment lasts without a heartbeat (ms). */
  leaseMs?: number | undefined;
}

export class AuditLog {
  readonly #db: Kysely<Database>;
  /** Ops that commit apart, batched by kind (PostgreSQL). */
  readonly #apart: ApartBatcher;
  readonly #clock: () => number;
  readonly #key: KeyObject;
  readonly #leaseMs: number;
  readonly #signer: KeyObject | undefined;
  readonly #sealListeners: Array<(seal: AuditSealsTable) => void> = [];
  #segment: string;
  readonly #writer: string;
  #head: { seq: number; hash: string };
  #sealedSeq = 0;
  #segmentStored = false;
  #queue: Unit[] = [];
  #flushing = false;
  #scheduled = false;
  #closed = false;
  #idle: Array<() => void> = [];
  readonly #changeListeners: Array<() => void> = [];
  #batchListener: BatchListener | undefined;
  /** When the oldest record not yet sealed was committed, if any. */
  #unsealedSince: number | undefined;

  private constructor(
    db: Kysely<Database>,
    segment: string,
    writer: string,
    clock: () => number,
    key: KeyObject,
    signer: KeyObject | undefined,
    leaseMs: number,
  ) {
    this.#db = db;
    this.#apart = new ApartBatcher(db);
    this.#key = key;
    this.#signer = signer;
    this.#leaseMs = leaseMs;
    this.#segment = segment;
    this.#writer = writer;
    this.#clock = clock;
    this.#head = { seq: 0, hash: segmentGenesis(segment) };
  }

  /**
   * A writer's log. Its segment is recorded with its first record, in the same transaction, so a
   * writer that records nothing (a read-only admin command) leaves no trace.
   */
  static async open(db: Kysely<Database>, options: AuditLogOptions): Promise<AuditLog> {
    const writer = `${options.writer}@${hostname()}:${process.pid}`;
    return new AuditLog(
      db,
      randomId('seg_', 12),
      writer,
      options.clock,
      options.key,
      options.signer,
      options.leaseMs ?? DEFAULT_LEASE_MS,
    );
  }

  /** This writer's current segment. */
  get segment(): string {
    return this.#segment;
  }

  /**
   * Calls `listener` after every commit that carried a change (a `transact` whose work succeeded), so
   * caches of what such work changes (clients, keys, people) are dropped. Ops given to `run` do not
   * count: they only write state no cache reads. On PostgreSQL such a commit also notifies every
   * instance's change listener (`notifyChanges`, in the same transaction).
   */
  onChange(listener: () => void): void {
    this.#changeListeners.push(listener);
  }

  /** Calls `listener` with every seal this writer commits (its own head, or an abandoned segment's). */
  onSeal(listener: (seal: AuditSealsTable) => void): void {
    this.#sealListeners.push(listener);
  }

  /** Calls `listener` after every group commit (for metrics); one listener, set once. */
  onBatch(listener: BatchListener): void {
    this.#batchListener = listener;
  }

  /** Units waiting for the next group commit. */
  get queued(): number {
    return this.#queue.length;
  }

  /** When this writer's oldest unsealed record was committed (clock ms), or undefined if all are sealed. */
  get unsealedSince(): number | undefined {
    return this.#unsealedSince;
  }

  /** Appends a record. Resolves once it is committed. */
  record(entry: AuditEntry): Promise<void> {
    return this.#enqueue({ entry }) as Promise<void>;
  }

  /**
   * Runs `work` and appends the record it produces in one transaction: both are committed, or neither.
   * If `work` throws, nothing of it is kept, no record is written, and the error is rethrown. An entry
   * function may return `null` for work that is not an event of its own (a replay marker): it then
   * simply rides the same group commit.
   */
  transact<T>(
    work: (tx: Transaction<Database>) => Promise<T>,
    entry: AuditEntry | ((result: T) => AuditEntry | null),
  ): Promise<T> {
    return this.#enqueue({ work, entry: entry as Unit['entry'] }) as Promise<T>;
  }

  /**
   * Appends a record and adds `value` to `tally` in the same transaction: both are committed, or
   * neither. The tally is written once per batch for all its units (see `BatchTally`).
   */
  recordTallied<V>(entry: AuditEntry, tally: BatchTally<V>, value: V): Promise<void> {
    return this.#enqueue({ tally: { to: tally as BatchTally<unknown>, value }, entry }) as Promise<void>;
  }

  /**
   * Like `transact`, for one store op (a replay marker, a poll's timestamp, a key's use, a new device
   * request): it runs in the batch's transaction, in a savepoint — on SQLite synchronously, inside the
   * batch's own synchronous transaction, so it costs no extra commit and no promise per statement. An op
   * must not change what `onChange` listeners cache (clients, keys, people): it does not notify them.
   * See `RunOptions` for an op that may commit apart from its record.
   */
  run<T>(
    op: StoreOp<T>,
    entry: AuditEntry | ((result: T) => AuditEntry | null),
    options: RunOptions = {},
  ): Promise<T> {
    if (options.mayCommitApart && !this.#hasSyncDriver()) return this.#runApart(op, entry);
    return this.#enqueue({ op, entry: entry as Unit['entry'] }) as Promise<T>;
  }

  /** The group commit runs synchronously (SQLite's driver is at hand). */
  #hasSyncDriver(): boolean {
    return syncDriver(this.#db) !== undefined;
  }

  async #runApart<T>(op: StoreOp<T>, entry: AuditEntry | ((result: T) => AuditEntry | null)): Promise<T> {
    const result = isBatchable(op) ? await this.#apart.run(op) : await runOp(this.#db, op);
    const record = typeof entry === 'function' ? entry(result) : entry;
    if (record) await this.record(record);
    return result;
  }

  #enqueue(unit: Pick<Unit, 'work' | 'op' | 'tally' | 'entry'>): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('audit log is closed'));
    return new Promise((resolve, reject) => {
      // One shape for every unit, so the batch loop stays monomorphic.
      this.#queue.push({
        work: unit.work,
        op: unit.op,
        tally: unit.tally,
        entry: unit.entry,
        resolve,
        reject,
      });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#flushing || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        const failure = await this.#commitBatch(batch, false);
        if (failure !== undefined && isAuditCollision(failure)) {
          // Someone wrote a row where our next record belongs (only possible by writing to the table
          // behind our back): continue in a fresh segment rather than fail every request from now on.
          // The intruding row breaks the old segment's chain, which `audit verify` reports.
          this.#moveToNewSegment();
          await this.#commitBatch(batch, true);
        } else if (failure !== undefined) {
          await this.#commitOneByOne(batch, failure);
        }
      }
    } finally {
      this.#flushing = false;
      if (this.#queue.length > 0) this.#schedule();
      else for (const done of this.#idle.splice(0)) done();
    }
  }

  /**
   * After a batch failed as a whole, commits its units one transaction each, so that what broke it (a
   * deadlock, a record the database refuses, an entry function that throws) fails only the unit it came
   * from. Not when the database itself is unreachable, and no further once a unit alone fails for a
   * transient reason (a timeout, say): a unit's own work fails inside its savepoint without failing its
   * transaction, so the fault is then not any one unit's, and each unit would wait for it again. Units
   * whose work already ran in the failed batch run it again: that transaction was rolled back.
   */
  async #commitOneByOne(batch: Unit[], failure: unknown): Promise<void> {
    if (batch.length === 1 || isStorageUnreachable(failure)) {
      for (const unit of batch) unit.reject(failure);
      return;
    }
    for (const [i, unit] of batch.entries()) {
      let error = await this.#commitBatch([unit], false);
      if (error !== undefined && isAuditCollision(error)) {
        this.#moveToNewSegment();
        error = await this.#commitBatch([unit], false);
      }
      if (error === undefined) continue;
      unit.reject(error);
      if (isTransientStorageError(error)) {
        for (const rest of batch.slice(i + 1)) rest.reject(error);
        return;
      }
    }
  }

  #moveToNewSegment(): void {
    this.#segment = randomId('seg_', 12);
    this.#segmentStored = false;
    this.#head = { seq: 0, hash: segmentGenesis(this.#segment) };
    this.#sealedSeq = 0;
    this.#unsealedSince = undefined;
  }

  /** Commits a batch. On failure, rejects the units if `final`, else returns the error to the caller. */
  async #commitBatch(batch: Unit[], final: boolean, guardEveryUnit = false): Promise<unknown> {
    const listener = this.#batchListener;
    const started = listener ? performance.now() : 0;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    let head = this.#head;
    let storesSegment = false;
    const segmentRow = (): AuditSegmentsTable => ({
      id: this.#segment,
      writer: this.#writer,
      started_at: this.#clock(),
      alive_until: this.#clock() + this.#leaseMs,
    });
    const driver = syncDriver(this.#db);
    // Tallied units have no work of their own, so they cannot fail alone: their values are known now.
    const tallies = new Map<BatchTally<unknown>, unknown[]>();
    for (const unit of batch) {
      if (!unit.tally) continue;
      const values = tallies.get(unit.tally.to);
      if (values) values.push(unit.tally.value);
      else tallies.set(unit.tally.to, [unit.tally.value]);
    }
    /** A unit whose work succeeded: chain its record (if it has one) and note its result. */
    const accept = (unit: Unit, value: unknown, rows: AuditEventsTable[]) => {
      const entry = typeof unit.entry === 'function' ? unit.entry(value) : unit.entry;
      if (entry) {
        const row = this.#chain(entry, head);
        head = { seq: row.seq, hash: row.hash };
        rows.push(row);
      }
      outcomes.push({ ok: true, value });
    };
    // On PostgreSQL, a batch of records and combinable tallies into a stored segment is one statement.
    const tallySteps =
      !driver && this.#segmentStored && batch.every((u) => !u.work && !u.op)
        ? combinableTallies(tallies)
        : undefined;
    try {
      if (driver && batch.every((unit) => !unit.work)) {
        // On SQLite, no async work: one synchronous transaction, no promise per statement.
        await driver.exclusive((connection) => {
          connection.runSync('begin immediate', []);
          try {
            for (const [tally, values] of tallies) runOpSync(connection, tally.write(values));
            const rows: AuditEventsTable[] = [];
            for (const unit of batch) {
              let value: unknown;
              if (unit.op) {
                connection.runSync('savepoint unit', []);
                try {
                  value = runOpSync(connection, unit.op);
                  connection.runSync('release savepoint unit', []);
                } catch (error) {
                  connection.runSync('rollback to savepoint unit', []);
                  connection.runSync('release savepoint unit', []);
                  outcomes.push({ ok: false, error });
                  continue;
                }
              }
              accept(unit, value, rows);
            }
            storesSegment = rows.length > 0 && !this.#segmentStored;
            runOpSync(connection, appendAuditRows(storesSegment ? segmentRow() : undefined, rows));
            connection.runSync('commit', []);
          } catch (error) {
            try {
              connection.runSync('rollback', []);
            } catch {
              // Already rolled back by SQLite itself.
            }
            throw error;
          }
        });
      } else if (tallySteps) {
        // Records and tallies only, into a segment already stored: one statement, atomic on its own
        // (the tallies as data-modifying `with` clauses) — no transaction around it.
        const rows: AuditEventsTable[] = [];
        for (const unit of batch) accept(unit, undefined, rows);
        const records = appendAuditRows(undefined, rows).steps('postgres').next();
        await runOp(
          this.#db,
          combined([...tallySteps, records.done ? { sql: 'select 1', params: [] } : records.value]),
        );
      } else {
        try {
          await this.#db.transaction().execute(async (tx) => {
            const rows: AuditEventsTable[] = [];
            head = this.#head;
            outcomes.length = 0;
            for (const [tally, values] of tallies) await runOp(tx, tally.write(values));
            for (const unit of batch) {
              let value: unknown;
              const { work, op } = unit;
              if (work || op) {
                // On PostgreSQL a savepoint (two round trips) only where a failure must not fail the
                // batch's other units: work that may refuse; an op only once one did (`GuardEveryUnit`).
                // A batch of one unit needs none: its failure rolls back a transaction holding nothing
                // else. (SQLite, where a savepoint costs no round trip, keeps one per unit.)
                if (driver || (batch.length > 1 && (guardEveryUnit || work))) {
                  await sql`savepoint unit`.execute(tx);
                  try {
                    value = work ? await work(tx) : op && (await runOp(tx, op));
                    await sql`release savepoint unit`.execute(tx);
                  } catch (error) {
                    await sql`rollback to savepoint unit`.execute(tx);
                    await sql`release savepoint unit`.execute(tx);
                    outcomes.push({ ok: false, error });
                    continue;
                  }
                } else {
                  try {
                    value = work ? await work(tx) : op && (await runOp(tx, op));
                  } catch (error) {
                    if (batch.length > 1) throw new GuardEveryUnit();
                    outcomes.push({ ok: false, error });
                    throw new LoneUnitFailed();
                  }
                }
              }
              accept(unit, value, rows);
            }
            storesSegment = rows.length > 0 && !this.#segmentStored;
            await runOp(tx, appendAuditRows(storesSegment ? segmentRow() : undefined, rows));
            // Other instances drop their caches when (and only if) this commits.
            if (batch.some((unit, i) => unit.work && outcomes[i]?.ok)) await notifyChanges(tx);
          });
        } catch (error) {
          if (error instanceof GuardEveryUnit) return this.#commitBatch(batch, final, true);
          if (!(error instanceof LoneUnitFailed)) throw error;
          // Rolled back: the unit's own failure is its outcome; nothing was written.
          head = this.#head;
          storesSegment = false;
        }
      }
    } catch (error) {
      listener?.(batch.length, performance.now() - started, true);
      if (!final) return error;
      for (const unit of batch) unit.reject(error);
      return undefined;
    }
    listener?.(batch.length, performance.now() - started, false);
    if (head.seq !== this.#head.seq && this.#unsealedSince === undefined) this.#unsealedSince = this.#clock();
    this.#head = head;
    if (storesSegment) this.#segmentStored = true;
    if (batch.some((unit, i) => unit.work && outcomes[i]?.ok)) {
      for (const listener of this.#changeListeners) listener();
    }
    batch.forEach((unit, i) => {
      const o = outcomes[i];
      if (o?.ok) unit.resolve(o.value);
      else unit.reject(o?.error);
    });
    return undefined;
  }

  #chain(entry: AuditEntry, head: { seq: number; hash: string }): AuditEventsTable {
    const fields = {
      segment: this.#segment,
      seq: head.seq + 1,
      at: this.#clock(),
      event: entry.event,
      outcome: entry.outcome ?? 'success',
      actor_type: entry.actor.type,
      actor_id: entry.actor.id ?? null,
      client_id: entry.clientId ?? null,
      ip: entry.ip ?? null,
      user_agent: entry.userAgent ? entry.userAgent.slice(0, 256) : null,
      detail: JSON.stringify(
        entry.requestId ? { ...entry.detail, request_id: entry.requestId } : (entry.detail ?? {}),
      ),
      prev_hash: head.hash,
    };
    return { ...fields, hash: recordHash(this.#key, fields) };
  }

  /** Resolves when everything queued so far is committed (or failed). */
  drain(): Promise<void> {
    if (!this.#flushing && !this.#scheduled && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Seals this segment's committed head into the global seal chain, if it advanced since last time. */
  async seal(): Promise<void> {
    const head = this.#head;
    if (head.seq === this.#sealedSeq) return;
    await this.#appendSeal(this.#segment, head, false);
    this.#sealedSeq = head.seq;
    // Records committed while the seal was written are still unsealed: their age counts from now.
    this.#unsealedSince = this.#head.seq === head.seq ? undefined : this.#clock();
  }

  /**
   * Renews this writer's lease on its segment (a live `serve` does so at every seal tick), so no other
   * instance seals its head on its behalf.
   */
  async heartbeat(): Promise<void> {
    if (!this.#segmentStored || this.#closed) return;
    await this.#db
      .updateTable('audit_segments')
      .set({ alive_until: this.#clock() + this.#leaseMs })
      .where('id', '=', this.#segment)
      .execute();
  }

  /**
   * Seals the head of every segment whose writer is gone (its lease lapsed: a crashed server, an admin
   * command that exited) and is not yet sealed as this writer seals (signed, when it holds the audit key).
   * Several instances may sweep at once: each seal is one conditional insert, so a head is sealed once,
   * and the segment's lease is cleared only if no record came after the sealed head. Returns how many
   * segments it sealed.
   */
  async sealAbandoned(limit = 500): Promise<number> {
    const now = this.#clock();
    const lapsed = await this.#db
      .selectFrom('audit_segments')
      .select('id')
      .where('alive_until', '<', now)
      .where('id', '!=', this.#segment)
      .orderBy('alive_until')
      .limit(limit)
      .execute();
    let sealed = 0;
    for (const { id } of lapsed) {
      const head = await this.#db
        .selectFrom('audit_events')
        .selectAll()
        .where('segment', '=', id)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      // Vouch only for a head the chain key wrote; a forged row is left for `audit verify` to report.
      if (
        head &&
        Number.isSafeInteger(head.seq) &&
        head.seq >= 1 &&
        recordHash(this.#key, head) === head.hash
      ) {
        if (await this.#appendSeal(id, { seq: head.seq, hash: head.hash }, true)) sealed++;
      }
      await this.#db
        .updateTable('audit_segments')
        .set({ alive_until: null })
        .where('id', '=', id)
        .where('alive_until', '<', now)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('audit_events')
                .select('seq')
                .where('segment', '=', id)
                .where('seq', '>', head?.seq ?? 0),
            ),
          ),
        )
        .execute();
    }
    return sealed;
  }

  /**
   * Appends a seal of `segment` at `head` to the seal chain. With `ifUnsealed`, one conditional insert
   * that does nothing when a seal (a signed one, if this writer signs) already covers `head`. Returns
   * whether a seal was written.
   */
  async #appendSeal(
    segment: string,
    head: { seq: number; hash: string },
    ifUnsealed: boolean,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const last = await this.#db
        .selectFrom('audit_seals')
        .select(['seq', 'hash'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      const fields: SealFields = {
        seq: (last?.seq ?? 0) + 1,
        at: this.#clock(),
        segment,
        segment_seq: head.seq,
        segment_hash: head.hash,
        prev_hash: last?.hash ?? SEAL_GENESIS,
      };
      const hash = sealHash(this.#key, fields);
      const row: AuditSealsTable = {
        ...fields,
        hash,
        signature: this.#signer ? signSeal(this.#signer, { ...fields, hash }) : null,
      };
      try {
        if (!ifUnsealed) {
          await this.#db.insertInto('audit_seals').values(row).execute();
        } else {
          const inserted = await this.#db
            .insertInto('audit_seals')
            .columns([
              'seq',
              'at',
              'segment',
              'segment_seq',
              'segment_hash',
              'prev_hash',
              'hash',
              'signature',
            ])
            .expression(
              this.#db
                .selectNoFrom([
                  sql<number>`cast(${row.seq} as bigint)`.as('seq'),
                  sql<number>`cast(${row.at} as bigint)`.as('at'),
                  sql<string>`cast(${row.segment} as text)`.as('segment'),
                  sql<number>`cast(${row.segment_seq} as bigint)`.as('segment_seq'),
                  sql<string>`cast(${row.segment_hash} as text)`.as('segment_hash'),
                  sql<string>`cast(${row.prev_hash} as text)`.as('prev_hash'),
                  sql<string>`cast(${row.hash} as text)`.as('hash'),
                  sql<string | null>`cast(${row.signature} as text)`.as('signature'),
                ])
                .where(({ not, exists, selectFrom }) => {
                  let covering = selectFrom('audit_seals')
                    .select('seq')
                    .where('segment', '=', segment)
                    .where('segment_seq', '>=', head.seq);
                  if (this.#signer) covering = covering.where('signature', 'is not', null);
                  return not(exists(covering));
                }),
            )
            .executeTakeFirst();
          if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
        }
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        continue;
      }
      for (const listener of this.#sealListeners) listener(row);
      return true;
    }
    throw new Error('could not seal the audit segment: too much contention');
  }

  /**
   * Flushes, seals and stops accepting records. A writer that signs (`serve`) then gives up its lease:
   * its head carries its own signed seal. An admin command keeps it, so `serve` signs its head later.
   */
  async close(): Promise<void> {
    await this.drain();
    this.#closed = true;
    await this.seal();
    if (this.#signer && this.#segmentStored) {
      await this.#db
        .updateTable('audit_segments')
        .set({ alive_until: null })
        .where('id', '=', this.#segment)
        .execute();
    }
  }
}

/** The tallies' statements, if they may ride one combined statement (else undefined). */
function combinableTallies(tallies: Map<BatchTally<unknown>, unknown[]>): SqlStep[] | undefined {
  const steps: SqlStep[] = [];
  for (const [tally, values] of tallies) {
    if (!tally.statements) return undefined;
    steps.push(...tally.statements(values));
    if (steps.length > MAX_COMBINED_TALLIES) return undefined;
  }
  return steps;
}

/** `steps` as one statement: all but the last as data-modifying `with` clauses (PostgreSQL). */
function combined(steps: SqlStep[]): StoreOp<void> {
  const last = steps.at(-1) as SqlStep;
  if (steps.length === 1) return statement(last.sql, last.params, nothing);
  const clauses = steps.slice(0, -1).map((step, i) => `t${i} as (${step.sql})`);
  return statement(
    `with ${clauses.join(', ')} ${last.sql}`,
    steps.flatMap((step) => step.params),
    nothing,
  );
}

/**
 * A batch failed because a row already sits where this writer's next record (or its segment) belongs:
 * only possible by writing to the log's tables behind its back. Not a tally's own unique violation.
 */
function isAuditCollision(error: unknown): boolean {
  return isUniqueViolationOn(error, 'audit_events') || isUniqueViolationOn(error, 'audit_segments');
}
