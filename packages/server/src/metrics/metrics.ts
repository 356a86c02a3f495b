/**
 * The server's Prometheus metrics: one registry per app instance (never prom-client's global default
 * registry, so several apps in one process keep apart). Nothing here knows the server: the hot paths
 * increment counters in place, and what is cheaper read than counted (pool use, cache tallies, key age,
 * seal lag) is read from `sources` when Prometheus scrapes.
 *
 * Labels are bounded: route patterns (never a raw URL), status codes, grant types the registry knows,
 * client-authentication methods, audit event names and reason codes (checked against a pattern; anything
 * else reads `other`). No label ever carries a value a caller chose freely.
 *
 * Only `clavis serve` with metrics on loads this module (and prom-client): others import its types only.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { reasonLabel } from './labels.js';

/** What Prometheus should scrape: the content type and the exposition text. */
export interface Scrape {
  contentType: string;
  body: string;
}

/** A cache's tallies since start: read at scrape time, so a lookup costs an integer increment. */
export interface CacheTally {
  hits: number;
  misses: number;
  invalidations: number;
}

/** Read when Prometheus scrapes; each may be absent (no PostgreSQL pool on SQLite, say). */
export interface MetricSources {
  /** The PostgreSQL pool: connections open, idle, and requests waiting for one. */
  pool?: () => { total: number; idle: number; waiting: number } | undefined;
  /** Audit units queued for the next group commit (on SQLite, the writes waiting for the one writer). */
  auditQueued?: () => number;
  /** When the oldest record this instance has not yet sealed was committed (ms), if any. */
  auditUnsealedSince?: () => number | undefined;
  /** When the current signing key started signing (ms), if one is loaded. */
  signingKeyActivatedAt?: () => number | undefined;
  /** Exact caches by name (`clients`, `api_keys`). */
  caches?: () => Record<string, CacheTally>;
  /**
   * The storage-outage counters of the server's outage tracker (state changes are logged once; the
   * requests failed meanwhile are counted): name → count since start. The hook the outage tracker's
   * counters plug into.
   */
  outageCounters?: () => Record<string, number>;
  clock?: () => number;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export class Metrics {
  readonly registry = new Registry();
  readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  readonly tokensIssued: Counter<'grant' | 'credential'>;
  readonly refusals: Counter<'event' | 'reason'>;
  readonly errors: Counter<'error' | 'status'>;
  readonly storageErrors: Counter<'kind'>;
  readonly auditBatchSize: Histogram;
  readonly auditBatchDuration: Histogram;
  readonly auditBatchFailures: Counter;
  #sources: MetricSources = {};

  constructor() {
    const registers = [this.registry];
    this.requestDuration = new Histogram({
      name: 'clavis_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status, and how long they took',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.tokensIssued = new Counter({
      name: 'clavis_tokens_issued_total',
      help: 'Access tokens issued, by grant type and client credential kind',
      labelNames: ['grant', 'credential'],
      registers,
    });
    this.refusals = new Counter({
      name: 'clavis_refusals_total',
      help: 'Refused requests recorded in the audit log (before aggregation), by event and reason',
      labelNames: ['event', 'reason'],
      registers,
    });
    this.errors = new Counter({
      name: 'clavis_oauth_errors_total',
      help: 'Error responses by OAuth error code and status',
      labelNames: ['error', 'status'],
      registers,
    });
    this.storageErrors = new Counter({
      name: 'clavis_storage_errors_total',
      help: 'Requests failed by storage, by kind (transient: answered 503 with Retry-After)',
      labelNames: ['kind'],
      registers,
    });
    this.auditBatchSize = new Histogram({
      name: 'clavis_audit_batch_size',
      help: 'Units (records and the changes they describe) per audit group commit',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.auditBatchDuration = new Histogram({
      name: 'clavis_audit_batch_duration_seconds',
      help: 'How long an audit group commit took',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.auditBatchFailures = new Counter({
      name: 'clavis_audit_batch_failures_total',
      help: 'Audit group commits that failed as a whole',
      registers,
    });
    const sources = () => this.#sources;
    const now = () => (sources().clock ?? Date.now)();
    new Gauge({
      name: 'clavis_db_pool_connections',
      help: 'PostgreSQL pool connections by state (open, idle) and requests waiting for one',
      labelNames: ['state'],
      registers,
      collect() {
        const pool = sources().pool?.();
        if (!pool) return;
        this.set({ state: 'open' }, pool.total);
        this.set({ state: 'idle' }, pool.idle);
        this.set({ state: 'waiting' }, pool.waiting);
      },
    });
    new Gauge({
      name: 'clavis_audit_queued_units',
      help: 'Audit units waiting for the next group commit (on SQLite, writes waiting for the writer)',
      registers,
      collect() {
        this.set(sources().auditQueued?.() ?? 0);
      },
    });
    new Gauge({
      name: 'clavis_audit_seal_lag_seconds',
      help: "Age of this instance's oldest unsealed audit record (0 when all are sealed)",
      registers,
      collect() {
        const since = sources().auditUnsealedSince?.();
        this.set(since === undefined ? 0 : Math.max(0, (now() - since) / 1000));
      },
    });
    new Gauge({
      name: 'clavis_signing_key_age_seconds',
      help: 'How long the current signing key has been signing',
      registers,
      collect() {
        const at = sources().signingKeyActivatedAt?.();
        if (at !== undefined) this.set(Math.max(0, (now() - at) / 1000));
      },
    });
    const cacheCounter = (name: string, help: string, field: keyof CacheTally) =>
      new Counter({
        name,
        help,
        labelNames: ['cache'],
        registers,
        collect() {
          const caches = sources().caches?.() ?? {};
          this.reset();
          for (const [cache, tally] of Object.entries(caches)) {
            if (tally[field] > 0) this.inc({ cache }, tally[field]);
          }
        },
      });
    new Counter({
      name: 'clavis_storage_outage_events_total',
      help: 'Storage outage counters (outages begun, requests failed during one), by counter',
      labelNames: ['counter'],
      registers,
      collect() {
        const counters = sources().outageCounters?.() ?? {};
        this.reset();
        for (const [counter, value] of Object.entries(counters)) {
          if (value > 0) this.inc({ counter: reasonLabel(counter) }, value);
        }
      },
    });
    cacheCounter('clavis_cache_hits_total', 'Exact-cache lookups answered from memory', 'hits');
    cacheCounter('clavis_cache_misses_total', 'Exact-cache lookups that went to storage', 'misses');
    cacheCounter(
      'clavis_cache_invalidations_total',
      'Times an exact cache was emptied (a commit here or elsewhere)',
      'invalidations',
    );
  }

  /** Where the scrape-time values come from (later calls add to, and override, earlier ones). */
  observe(sources: MetricSources): void {
    this.#sources = { ...this.#sources, ...sources };
  }

  async scrape(): Promise<Scrape> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
