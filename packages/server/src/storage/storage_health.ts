/**
 * Whether storage answers, as the requests see it: the one place that notices an outage and its end.
 * A transient failure (a request answered 503, a background task such as the seal) is counted here; the first one of an outage is logged (one warn
 * line), the rest only counted, and the end of the outage is logged once with how many failed in it. The
 * end is found by probing storage once a second while it is down, so a quiet outage ends too.
 */
import type { Kysely } from 'kysely';
import { rawRows } from './raw.js';

/** What this needs of a logger (pino's shape). */
export interface HealthLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

export interface StorageHealthCounters {
  /** Whether storage is down now (a failure seen, no probe answered since). */
  readonly down: boolean;
  /** Transient storage failures (requests answered 503, background tasks), since start. */
  readonly failures: number;
  /** Outages seen since start. */
  readonly outages: number;
}

export class StorageHealth implements StorageHealthCounters {
  // biome-ignore lint/suspicious/noExplicitAny: the probe is a schema-agnostic `select 1`.
  readonly #db: Kysely<any>;
  readonly #log: HealthLogger;
  readonly #clock: () => number;
  readonly #probeMs: number;
  #down = false;
  #since = 0;
  #inOutage = 0;
  #failures = 0;
  #outages = 0;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: {
    // biome-ignore lint/suspicious/noExplicitAny: see #db.
    db: Kysely<any>;
    log: HealthLogger;
    clock?: () => number;
    /** How often storage is probed while down (ms). */
    probeMs?: number;
  }) {
    this.#db = options.db;
    this.#log = options.log;
    this.#clock = options.clock ?? Date.now;
    this.#probeMs = options.probeMs ?? 1000;
  }

  get down(): boolean {
    return this.#down;
  }
  get failures(): number {
    return this.#failures;
  }
  get outages(): number {
    return this.#outages;
  }

  /** Something failed for a transient storage reason (a request answered 503, a background task). */
  failed(err: unknown): void {
    this.#failures++;
    this.#inOutage++;
    if (this.#down) return;
    this.#down = true;
    this.#outages++;
    this.#since = this.#clock();
    this.#log.warn(
      { err: err instanceof Error ? err.message : String(err) },
      'storage unavailable: answering 503 until it recovers (further failures are counted, not logged)',
    );
    this.#scheduleProbe();
  }

  /** Storage answered (a probe, or `/readyz`): ends an outage, if one is going on. */
  answered(): void {
    if (!this.#down) return;
    this.#down = false;
    clearTimeout(this.#probe);
    this.#probe = undefined;
    this.#log.info(
      { failed_requests: this.#inOutage, down_ms: this.#clock() - this.#since },
      'storage recovered',
    );
    this.#inOutage = 0;
  }

  #scheduleProbe(): void {
    if (this.#closed || this.#probe) return;
    this.#probe = setTimeout(() => {
      this.#probe = undefined;
      rawRows(this.#db, 'select 1 as ok', []).then(
        () => this.answered(),
        () => {
          if (this.#down) this.#scheduleProbe();
        },
      );
    }, this.#probeMs);
    this.#probe.unref();
  }

  /** Stops probing. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#probe);
    this.#probe = undefined;
  }
}
