/**
 * Cross-instance invalidation on PostgreSQL: a `CommitVersion` fed by `LISTEN/NOTIFY`.
 *
 * Every transaction that changes what an exact cache holds (clients, API keys, revocations: the audit
 * log's changing units) calls `notifyChanges` inside itself, so PostgreSQL delivers the notification
 * only if, and once, it commits. Each instance holds one dedicated connection listening on the channel
 * and moves its version on every notification for its schema, which drops every cache entry.
 *
 * Exactness first: while that connection is down, or not yet listening, the version is undefined, so
 * the caches read through. Once it listens again the version moves, so nothing read before (when a
 * notification may have been missed) is served again. The stale window is the notification's delivery
 * time after the commit (milliseconds). A network that is cut without a reset is not noticed by the
 * connection (TCP keep-alive takes minutes), so the listener also notifies itself every `heartbeatMs`:
 * when its own heartbeat has not come back for `staleAfterMs` the version is undefined (read through)
 * until one does, and then it moves, as after a reconnection.
 */
import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import type { CommitVersion } from './exact_cache.js';
import { isSqlite } from './raw.js';
import type { Database } from './schema.js';

/** The channel; the payload is the schema whose data changed (instances of other schemas ignore it). */
export const CHANGES_CHANNEL = 'clavis_changes';

/** What a listening connection's `application_name` starts with (to find it in `pg_stat_activity`). */
export const LISTENER_APPLICATION_NAME = 'clavis-listen';

/** Announces, from inside transaction `tx`, that it changes cached state (PostgreSQL; no-op on SQLite). */
export async function notifyChanges(tx: Kysely<Database>): Promise<void> {
  if (isSqlite(tx)) return;
  await sql`select pg_notify(${CHANGES_CHANNEL}, current_schema())`.execute(tx);
}

const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 5000;
const HEARTBEAT_MS = 250;
const STALE_AFTER_MS = 1000;

export interface ChangeListenerOptions {
  /** How long after losing its connection the listener first tries again (ms; doubles up to 5 s). */
  firstRetryMs?: number;
  /** How often the listener notifies itself to prove the connection still delivers (ms, default 250). */
  heartbeatMs?: number;
  /** How long without its own heartbeat before it stops vouching for the caches (ms, default 1000). */
  staleAfterMs?: number;
}

export class PgChangeListener implements CommitVersion {
  readonly #config: pg.ClientConfig;
  /** Unique per listener, so a test (or an operator) can tell instances apart. */
  readonly applicationName = `${LISTENER_APPLICATION_NAME}-${randomBytes(4).toString('hex')}`;
  #client: pg.Client | undefined;
  #schema: string | undefined;
  #listening = false;
  #version = 0;
  readonly #firstRetryMs: number;
  #retryMs: number;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #stateListeners: Array<(listening: boolean) => void> = [];
  readonly #heartbeatMs: number;
  readonly #staleAfterMs: number;
  /** The payload of this listener's own heartbeats (the schema's changes carry the schema). */
  readonly #heartbeatPayload = `heartbeat:${this.applicationName}`;
  #heartbeat: NodeJS.Timeout | undefined;
  #heartbeatInFlight = false;
  /** When (performance.now) the connection last proved it delivers: subscribed, or a heartbeat back. */
  #lastHeard = 0;
  #stale = false;

  private constructor(config: pg.ClientConfig, options: ChangeListenerOptions) {
    this.#config = config;
    this.#firstRetryMs = options.firstRetryMs ?? FIRST_RETRY_MS;
    this.#retryMs = this.#firstRetryMs;
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.#staleAfterMs = options.staleAfterMs ?? STALE_AFTER_MS;
  }

  /** Starts listening; resolves once the first subscription succeeded or failed (then it retries). */
  static async start(
    config: pg.ClientConfig,
    options: ChangeListenerOptions = {},
  ): Promise<PgChangeListener> {
    const listener = new PgChangeListener(config, options);
    await listener.#connect();
    return listener;
  }

  /**
   * The version: moves on every change committed by anyone; undefined while not listening, or while the
   * connection has not delivered its own heartbeat for `staleAfterMs` (a cut network).
   */
  current(): number | undefined {
    if (!this.#listening) return undefined;
    if (performance.now() - this.#lastHeard > this.#staleAfterMs) {
      this.#stale = true;
      return undefined;
    }
    if (this.#stale) {
      // Delivering again: what was read while it was not may predate a missed notification.
      this.#stale = false;
      this.#version++;
    }
    return this.#version;
  }

  get listening(): boolean {
    return this.#listening;
  }

  /** Calls `listener` whenever listening starts or stops. */
  onState(listener: (listening: boolean) => void): void {
    this.#stateListeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearInterval(this.#heartbeat);
    this.#setListening(false);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  #setListening(listening: boolean): void {
    if (this.#listening === listening) return;
    this.#listening = listening;
    for (const l of this.#stateListeners) l(listening);
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      ...this.#config,
      application_name: this.applicationName,
      keepAlive: true,
    });
    const lost = () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#heartbeatInFlight = false;
      this.#setListening(false);
      client.end().catch(() => {});
      this.#scheduleRetry();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      if (n.channel !== CHANGES_CHANNEL) return;
      if (n.payload === this.#schema) this.#version++;
      else if (n.payload === this.#heartbeatPayload && this.#client === client)
        this.#lastHeard = performance.now();
    });
    this.#client = client;
    try {
      await client.connect();
      const rows = await client.query<{ s: string }>('select current_schema() as s');
      this.#schema = rows.rows[0]?.s;
      await client.query(`listen ${CHANGES_CHANNEL}`);
    } catch {
      lost();
      return;
    }
    if (this.#client !== client || this.#closed) return;
    // Whatever was read before this point may predate a missed notification.
    this.#version++;
    this.#retryMs = this.#firstRetryMs;
    this.#lastHeard = performance.now();
    this.#stale = false;
    this.#setListening(true);
    this.#startHeartbeat();
  }

  /** Notifies itself every `heartbeatMs`, one at a time (a heartbeat stuck on a cut network waits). */
  #startHeartbeat(): void {
    if (this.#heartbeat) return;
    this.#heartbeat = setInterval(() => {
      const client = this.#client;
      if (!client || !this.#listening || this.#heartbeatInFlight) return;
      this.#heartbeatInFlight = true;
      client
        .query('select pg_notify($1, $2)', [CHANGES_CHANNEL, this.#heartbeatPayload])
        .catch(() => {}) // a failing connection reports through 'error'/'end'
        .finally(() => {
          this.#heartbeatInFlight = false;
        });
    }, this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retry) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, Math.max(MAX_RETRY_MS, this.#firstRetryMs));
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#connect();
    }, wait);
    this.#retry.unref();
  }
}
