/**
 * Durability of SQLite commits without blocking the event loop.
 *
 * With `synchronous=FULL` SQLite calls fsync on the write-ahead log inside every COMMIT, and node:sqlite
 * runs COMMIT on the main thread: the whole server stood still for that fsync (about 1.5 ms for a group
 * commit of ~30 device requests, a third of the loop under load). Instead the connection runs with
 * `synchronous=NORMAL` — a commit writes its frames to the log, which already survives a crash of the
 * process — and this class makes them survive power loss the same way FULL did, by `fdatasync` of the
 * log on libuv's thread pool, before anything the commit could have changed is handed back. One sync
 * covers every commit written before it started; callers waiting meanwhile share the next one.
 *
 * The log is append-only between checkpoints and SQLite syncs it itself before a checkpoint and when it
 * starts reusing it (`synchronous=NORMAL` does both), so a sync of the file after a commit makes that
 * commit, and every earlier one, durable: exactly what FULL guaranteed at COMMIT.
 *
 * A failed sync cannot be retried safely (the kernel may have dropped the unwritten pages and report
 * success next time), so it fails every later wait too: the storage reports itself broken rather than
 * acknowledge writes that may be lost.
 */
import { type FileHandle, open } from 'node:fs/promises';

/** Syncs an open file's data to stable storage (`fdatasync`); replaceable for fault tests. */
export type SyncFile = (file: FileHandle) => Promise<void>;

const datasync: SyncFile = (file) => file.datasync();

/** The log, opened for syncing; undefined if there is none. */
async function openLog(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export class WalDurability {
  readonly #walPath: string;
  readonly #commits: () => number;
  readonly #syncFile: SyncFile;
  #file: FileHandle | undefined;
  /** Commits known to be durable (every commit numbered up to this). */
  #durable = 0;
  #running: Promise<void> | undefined;
  #broken: Error | undefined;

  /** `commits` counts the commits made so far on the connection writing `walPath`. */
  constructor(walPath: string, commits: () => number, syncFile: SyncFile = datasync) {
    this.#walPath = walPath;
    this.#commits = commits;
    this.#syncFile = syncFile;
  }

  /** Resolves once every commit made so far is durable; undefined if they already are. */
  settled(): Promise<void> | undefined {
    if (this.#broken) return Promise.reject(this.#broken);
    const upTo = this.#commits();
    return upTo <= this.#durable ? undefined : this.#until(upTo);
  }

  async #until(upTo: number): Promise<void> {
    while (this.#durable < upTo) {
      if (this.#broken) throw this.#broken;
      if (!this.#running) this.#running = this.#syncOnce();
      await this.#running;
    }
  }

  async #syncOnce(): Promise<void> {
    // Everything committed before the sync starts is in the file by now: the commit wrote it.
    const covered = this.#commits();
    try {
      this.#file ??= await openLog(this.#walPath);
      // No log at all: SQLite removes it only after checkpointing it into the synced database file.
      if (this.#file) await this.#syncFile(this.#file);
      this.#durable = Math.max(this.#durable, covered);
    } catch (err) {
      this.#broken = new Error(
        `could not make the SQLite write-ahead log durable (${(err as Error).message}); restart the server`,
        { cause: err },
      );
      throw this.#broken;
    } finally {
      this.#running = undefined;
    }
  }

  /** Waits for a sync in flight and lets go of the log. */
  async close(): Promise<void> {
    await this.#running?.catch(() => {});
    const file = this.#file;
    this.#file = undefined;
    await file?.close();
  }
}
