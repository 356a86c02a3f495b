/**
 * Scanning on every core: secretlint's rules are CPU-bound regular expressions, so a large scan spreads
 * its texts over worker threads (one per core, at most four) while the main thread reads. A small scan
 * stays in this thread (starting a worker costs more than it saves), and so does the single executable,
 * whose bundle has no worker script to start.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Hit } from './engine.js';

export interface WorkerRequest {
  id: number;
  content: Uint8Array;
  file: string;
  commit?: string;
}

export type WorkerReply = { id: number; hits: Hit[] } | { id: number; error: string };

/** Bytes scanned in this thread before the workers start. */
const START_WORKERS_AFTER = 4 * 1024 * 1024;
/** Texts waiting per worker: enough to keep it busy while the main thread reads. */
const QUEUE_PER_WORKER = 4;

export type ScanFn = (content: Buffer, file: string, commit?: string) => Promise<Hit[]>;

/** The worker script beside this module, or null where there is none (the single executable's bundle). */
function workerScript(): string | null {
  try {
    const path = fileURLToPath(new URL('./scan_worker.js', import.meta.url));
    return existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

export class ScanPool {
  private workers: Array<{ worker: Worker; busy: number }> = [];
  private pending = new Map<number, { resolve: (hits: Hit[]) => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private bytesInThread = 0;
  private readonly threads: number;
  private readonly script: string | null;

  constructor(
    private readonly inThread: ScanFn,
    threads = Math.min(availableParallelism(), 4),
  ) {
    this.script = workerScript();
    this.threads = threads;
  }

  /** Whether a call should wait before sending more (every worker has a full queue). */
  get saturated(): boolean {
    return this.workers.length > 0 && this.workers.every((w) => w.busy >= QUEUE_PER_WORKER);
  }

  /** How many texts can be in flight at once. */
  get capacity(): number {
    return this.workers.length ? this.workers.length * QUEUE_PER_WORKER : 1;
  }

  async scan(content: Buffer, file: string, commit?: string): Promise<Hit[]> {
    if (this.workers.length === 0) {
      if (this.script === null || this.threads < 2 || this.bytesInThread < START_WORKERS_AFTER) {
        this.bytesInThread += content.length;
        return this.inThread(content, file, commit);
      }
      this.start(this.script);
    }
    const slot = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    slot.busy += 1;
    return new Promise<Hit[]>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (hits) => {
          slot.busy -= 1;
          resolve(hits);
        },
        reject: (err) => {
          slot.busy -= 1;
          reject(err);
        },
      });
      const request: WorkerRequest = { id, content, file, ...(commit ? { commit } : {}) };
      slot.worker.postMessage(request);
    });
  }

  private start(script: string): void {
    for (let i = 0; i < this.threads; i++) {
      const worker = new Worker(script);
      worker.on('message', (reply: WorkerReply) => {
        const waiting = this.pending.get(reply.id);
        if (!waiting) return;
        this.pending.delete(reply.id);
        if ('error' in reply) waiting.reject(new Error(reply.error));
        else waiting.resolve(reply.hits);
      });
      worker.on('error', (err) => {
        for (const [id, waiting] of this.pending) {
          this.pending.delete(id);
          waiting.reject(err);
        }
      });
      this.workers.push({ worker, busy: 0 });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers = [];
  }
}
