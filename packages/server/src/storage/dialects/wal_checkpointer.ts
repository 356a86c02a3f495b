/**
 * SQLite checkpoints on a worker thread.
 *
 * A checkpoint copies the write-ahead log back into the database file and syncs both. SQLite runs one
 * automatically inside the COMMIT that crosses 1,000 pages of log — on the main thread, where it stopped
 * every request for several milliseconds. A serving process instead turns that off
 * (`wal_autocheckpoint=0`) and asks a worker, which holds its own connection to the file, for a PASSIVE
 * checkpoint shortly after commits: PASSIVE takes no lock that readers or the writer wait for, and the
 * worker's blocking I/O happens off the event loop. If the worker cannot start or dies, the main
 * connection goes back to automatic checkpoints, so the log never grows without bound.
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
parentPort.postMessage({ ready: true });
`;

export interface CheckpointResult {
  /** Frames in the log, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
}

interface WorkerReply {
  ready?: boolean;
  ok?: boolean;
  busy?: number;
  log?: number;
  checkpointed?: number;
  error?: string;
}

export class WalCheckpointer {
  readonly #worker: Worker;
  readonly #fallback: (reason: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Array<(result: CheckpointResult) => void> = [];
  #pending = false;
  #closed = false;
  #failed = false;

  /**
   * Starts the worker on the database file at `path`. `fallback` is called (once) if checkpoints can no
   * longer be taken off the main thread; it should turn automatic checkpoints back on.
   */
  constructor(path: string, fallback: (reason: string) => void) {
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
      this.#request();
    }, CHECKPOINT_DELAY_MS);
    this.#timer.unref();
  }

  /** Takes a checkpoint now; resolves with how much of the log it copied. */
  checkpoint(): Promise<CheckpointResult> {
    return new Promise((resolve) => {
      this.#inFlight.push(resolve);
      this.#request();
    });
  }

  #request(): void {
    if (this.#closed || this.#failed) {
      for (const resolve of this.#inFlight.splice(0)) resolve({ log: -1, checkpointed: -1 });
      return;
    }
    if (this.#pending) return;
    this.#pending = true;
    this.#worker.postMessage('checkpoint');
  }

  #onReply(reply: WorkerReply): void {
    if (reply.ready) return;
    this.#pending = false;
    if (!reply.ok) {
      this.#fail(`checkpoint failed: ${reply.error ?? 'unknown error'}`);
      return;
    }
    const result = { log: reply.log ?? -1, checkpointed: reply.checkpointed ?? -1 };
    for (const resolve of this.#inFlight.splice(0)) resolve(result);
  }

  #fail(reason: string): void {
    if (this.#failed || this.#closed) return;
    this.#failed = true;
    this.#pending = false;
    for (const resolve of this.#inFlight.splice(0)) resolve({ log: -1, checkpointed: -1 });
    this.#fallback(reason);
    void this.#worker.terminate();
  }

  /** Stops the worker and closes its connection (before the main connection closes, which checkpoints). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const resolve of this.#inFlight.splice(0)) resolve({ log: -1, checkpointed: -1 });
    if (this.#failed) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    // Held by the worker until it has closed its connection: an unreferenced worker would let the process
    // run out of work while this promise is pending.
    this.#worker.ref();
    this.#worker.postMessage('close');
    await exited;
  }
}
