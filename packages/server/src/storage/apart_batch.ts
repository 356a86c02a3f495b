/**
 * Ops that commit on their own (`RunOptions.mayCommitApart`: a poll's timestamp, a replay marker) and
 * that, when many arrive together, can be one statement on PostgreSQL instead of one autocommitted
 * statement — one round trip and one log flush — each.
 *
 * Such an op names its batch kind (`ApartBatch`) and its value. `ApartBatcher` runs the first op of a
 * kind at once, as one statement of one value; the ops of that kind that arrive while it runs wait
 * and go out together as the next statement, so batches grow with the load and never wait for a timer.
 * If a combined statement fails as a whole, each of its ops runs again on its own (its own statements,
 * as if it had never been batched), so a failure is only ever the failing op's — unless the database
 * is out of reach, which fails them all at once.
 *
 * SQLite does not use this: there the op rides the audit log's group commit inside its synchronous
 * transaction, which costs no round trip at all.
 */
import type { Kysely } from 'kysely';
import { isStorageUnreachable } from './errors.js';
import { rawRun } from './raw.js';
import { runOp, type SqlStep, type StepResult, type StoreOp } from './store_op.js';

/** A kind of op whose values can be written by one statement. */
export interface ApartBatch<V, R> {
  /** One statement doing the op for every value, in order (PostgreSQL, `?` placeholders). */
  statement(values: readonly V[]): SqlStep;
  /** Each value's result, in the order of `values`, from that statement's result. */
  results(result: StepResult, values: readonly V[]): R[];
}

/** An op that may be batched with others of its kind (and can still run alone: it is a `StoreOp`). */
export interface BatchableOp<V, R> extends StoreOp<R> {
  readonly apart: { readonly batch: ApartBatch<V, R>; readonly value: V };
}

export function isBatchable<R>(op: StoreOp<R>): op is BatchableOp<unknown, R> {
  return 'apart' in op && op.apart !== undefined;
}

interface Waiting {
  op: BatchableOp<unknown, unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** At most this many values in one statement (its arrays' length). */
const MAX_BATCH = 512;

export class ApartBatcher {
  // biome-ignore lint/suspicious/noExplicitAny: ops carry their own SQL and run on a handle of any schema.
  readonly #db: Kysely<any>;
  /** Per kind: the ops waiting for the statement in flight to finish. */
  readonly #waiting = new Map<ApartBatch<unknown, unknown>, Waiting[]>();
  /** The kinds with a statement in flight. */
  readonly #running = new Set<ApartBatch<unknown, unknown>>();

  // biome-ignore lint/suspicious/noExplicitAny: as above.
  constructor(db: Kysely<any>) {
    this.#db = db;
  }

  /** Runs `op`, in one statement with the others of its kind that are waiting when its turn comes. */
  run<V, R>(op: BatchableOp<V, R>): Promise<R> {
    const kind = op.apart.batch as ApartBatch<unknown, unknown>;
    return new Promise<R>((resolve, reject) => {
      const waiting: Waiting = {
        op: op as BatchableOp<unknown, unknown>,
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      const queue = this.#waiting.get(kind);
      if (queue) queue.push(waiting);
      else this.#waiting.set(kind, [waiting]);
      if (!this.#running.has(kind)) void this.#drain(kind);
    });
  }

  async #drain(kind: ApartBatch<unknown, unknown>): Promise<void> {
    this.#running.add(kind);
    try {
      for (;;) {
        const queue = this.#waiting.get(kind);
        if (!queue || queue.length === 0) break;
        const batch = queue.splice(0, MAX_BATCH);
        if (queue.length === 0) this.#waiting.delete(kind);
        await this.#runBatch(kind, batch);
      }
    } finally {
      this.#running.delete(kind);
    }
  }

  async #runBatch(kind: ApartBatch<unknown, unknown>, batch: Waiting[]): Promise<void> {
    if (batch.length > 1) {
      const values = batch.map((w) => w.op.apart.value);
      let results: unknown[] | undefined;
      try {
        const { sql, params } = kind.statement(values);
        results = kind.results(await rawRun(this.#db, sql, params), values);
      } catch (err) {
        // The database out of reach fails every op alike; anything else (a deadlock with another
        // instance, say) is retried as each op on its own, below.
        if (isStorageUnreachable(err)) {
          for (const w of batch) w.reject(err);
          return;
        }
      }
      if (results !== undefined) {
        batch.forEach((w, i) => {
          w.resolve(results[i]);
        });
        return;
      }
    }
    await Promise.all(
      batch.map((w) =>
        runOp(this.#db, w.op).then(
          (value) => w.resolve(value),
          (err: unknown) => w.reject(err),
        ),
      ),
    );
  }
}
