/**
 * SQLite checkpoints on a worker thread.
 *
 * A checkpoint copies the write-ahead log back into the database file and syncs both. SQLite runs one
 * automatically inside the COMMIT that crosses 1,000 pages of log — on the main thread, where it stopped
 * every request for several milliseconds. A serving process instead turns that off
 * (`wal_autocheckpoint=0`) and asks a worker, which holds its own connection to the file, for a
 * checkpoint shortly after commits, the worker's blocking I/O off the event loop. The checkpoint runs
 * while this process's connection is held (`exclusive`): with no commit landing meanwhile it copies the
 * whole log, so the next commit starts the log again from its beginning. (Checkpoints racing a steady
 * stream of commits never catch up, and the log grew by about 65 MB a second under load.) Requests that
 * need the database wait those few milliseconds; the event loop does not. If the worker cannot start or
 * dies, the main connection goes back to automatic checkpoints, so the log never grows without bound.
 *
 * The worker's code is a string evaluated by `Worker` (not a file), so it also runs from the single
 * executable.
 */
import { Worker } from 'node:worker_threads';

/** How long after a commit a checkpoint is asked for (ms): commits in between share it. */
const CHECKPOINT_DELAY_MS = 100;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path, { timeout: 0 });
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const row = checkpoint.get();
    parentPort.postMessage({ ok: true, busy: row.busy, log: row.log, checkpointed: row.checkpointed });
  } catch (err) {
    // Another connection holding a lock the checkpoint needs: try again after the next commits.
    const code = err && typeof err.errcode === 'number' ? err.errcode & 0xff : 0;
    if (code === 5 || code === 6) parentPort.postMessage({ ok: true, busy: 1, log: -1, checkpointed: -1 });
    else parentPort.postMessage({ ok: false, error: String(err && err.message) });
  }
});
`;

export interface CheckpointResult {
  /** Frames in the log, and how many of them are now in the database file (-1: no checkpoint ran). */
  log: number;
  checkpointed: number;
}

const NONE: CheckpointResult = { log: -1, checkpointed: -1 };

interface WorkerReply {
  ok?: boolean;
  busy?: number;
  log?: number;
  checkpointed?: number;
  error?: string;
}

/** Runs `work` while this process's connection is held (no statement of its own runs meanwhile). */
export type HoldConnection = <T>(work: () => Promise<T>) => Promise<T>;

export class WalCheckpointer {
  readonly #worker: Worker;
  readonly #hold: HoldConnection;
  readonly #fallback: (reason: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<CheckpointResult> | undefined;
  #reply: ((result: CheckpointResult) => void) | undefined;
  #closed = false;
  #failed = false;

  /**
   * Starts the worker on the database file at `path`. `fallback` is called (once) if checkpoints can no
   * longer be taken off the main thread; it should turn automatic checkpoints back on.
   */
  constructor(path: string, hold: HoldConnection, fallback: (reason: string) => void) {
    this.#hold = hold;
    this.#fallback = fallback;
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path } });
    this.#worker.unref();
    this.#worker.on('message', (reply: WorkerReply) => this.#onReply(reply));
    this.#worker.on('error', (err) => this.#fail(`checkpoint worker failed: ${err.message}`));
    this.#worker.on('exit', (code) => {
      if (!this.#closed) this.#fail(`checkpoint worker exited (code ${code})`);
    });
  }

  /** A commit happened: a checkpoint follows shortly (one for all commits until then). */
  committed(): void {
    if (this.#timer || this.#closed || this.#failed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.checkpoint();
    }, CHECKPOINT_DELAY_MS);
    this.#timer.unref();
  }

  /** Takes a checkpoint (or joins the one under way); resolves with how much of the log it copied. */
  checkpoint(): Promise<CheckpointResult> {
    if (this.#closed || this.#failed) return Promise.resolve(NONE);
    this.#running ??= this.#hold(() => this.#ask()).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #ask(): Promise<CheckpointResult> {
    if (this.#closed || this.#failed) return Promise.resolve(NONE);
    return new Promise((resolve) => {
      this.#reply = resolve;
      this.#worker.postMessage('checkpoint');
    });
  }

  #onReply(reply: WorkerReply): void {
    const resolve = this.#reply;
    this.#reply = undefined;
    if (!reply.ok) {
      this.#fail(`checkpoint failed: ${reply.error ?? 'unknown error'}`);
      resolve?.(NONE);
      return;
    }
    resolve?.({ log: reply.log ?? -1, checkpointed: reply.checkpointed ?? -1 });
  }

  #fail(reason: string): void {
    if (this.#failed || this.#closed) return;
    this.#failed = true;
    this.#reply?.(NONE);
    this.#reply = undefined;
    this.#fallback(reason);
    void this.#worker.terminate();
  }

  /** Stops the worker and closes its connection (before the main connection closes, which checkpoints). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // A checkpoint under way finishes first (the worker answers it); one still waiting does nothing.
    await this.#running;
    if (this.#failed) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    // Held by the worker until it has closed its connection: an unreferenced worker would let the process
    // run out of work while this promise is pending.
    this.#worker.ref();
    this.#worker.postMessage('close');
    await exited;
  }
}
