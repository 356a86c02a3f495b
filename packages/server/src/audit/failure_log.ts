/**
 * Unauthenticated failures (a wrong client secret, a refused API key or workload token, a wrong user
 * code or password) are cheap for anyone to cause, so they must not cost a permanent audit record each.
 *
 * - **Throttled before they are recorded**: `fail` charges the failure to its address's budget (an IPv6
 *   client's whole /64), shared by every instance in the database. Over budget, the caller answers 429
 *   and the failure is recorded only in an aggregate. Only failures are charged: a request that
 *   succeeds never touches the budget, so the hot paths pay nothing.
 * - **Aggregated**: the first failure of a kind — (event, reason and details, address, subject) — in a window is
 *   recorded as it happens; the rest of that window are counted and written as one record carrying
 *   `count` and the window when it ends (or on close). Failures over budget are aggregated per (event,
 *   address) whatever their subject, and past `maxKinds` kinds in a window per event, so neither the
 *   log nor this process's memory grows with what an attacker varies.
 * - Unknown usernames are recorded as a keyed hash (`usernameHash`), never as typed: people type
 *   passwords into the username field.
 */

import type { Kysely } from 'kysely';
import { HmacSha256 } from '../crypto/hmac.js';
import { budgetAddress, takeRateLimit, windowStart } from '../storage/rate_limits.js';
import type { Database } from '../storage/schema.js';
import type { AuditLog } from './audit_log.js';
import type { AuditEntry } from './events.js';

const WINDOW_MS = 60_000;
const DEFAULT_MAX_KINDS = 10_000;

interface FailureLogOptions {
  db: Kysely<Database>;
  audit: AuditLog;
  clock: () => number;
  /** Keys the hash of unknown usernames: `kek.derive('audit-subjects')`. */
  subjectKey: Uint8Array;
  /** Failures charged per client address per minute, across all instances, before answers become 429. */
  perAddressPerMinute: number;
  /** Kinds of failure tracked per window on this instance; beyond, they are counted per event. */
  maxKinds?: number;
}

/** A failure to record: its audit entry (outcome `failure`) and what it was about. */
export interface Failure {
  entry: AuditEntry;
  /** The client, key, user or hashed name the failure concerns; with the reason, what makes two alike. */
  subject?: string | null | undefined;
}

type FailureVerdict = { throttled: false } | { throttled: true; retryAfterSeconds: number };

interface Kind {
  entry: AuditEntry;
  /** Failures of this kind in the window not recorded one by one. */
  count: number;
}

export class FailureLog {
  readonly #options: FailureLogOptions;
  readonly #hmac: HmacSha256;
  #window = 0;
  #kinds = new Map<string, Kind>();
  /** Addresses this instance already saw over budget in the current window: no need to ask again. */
  #overBudget = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #refusalListener: ((entry: AuditEntry, throttled: boolean) => void) | undefined;

  constructor(options: FailureLogOptions) {
    this.#options = options;
    this.#hmac = new HmacSha256(options.subjectKey);
    this.#timer = setInterval(() => {
      void this.#rollover().catch(() => {
        // The database is failing; the next rollover or close tries again with what came since.
      });
    }, WINDOW_MS / 4);
    this.#timer.unref();
  }

  /** A keyed hash of a username as typed: the same name always gives the same value, never the name. */
  usernameHash(username: string): string {
    return `hmac:${this.#hmac.digest(`username:${username}`).subarray(0, 16).toString('base64url')}`;
  }

  /** Calls `listener` with every refusal noted, before aggregation (for metrics); one listener. */
  onRefusal(listener: (entry: AuditEntry, throttled: boolean) => void): void {
    this.#refusalListener = listener;
  }

  /**
   * Charges one failure to the budget of `entry.ip`'s address, then records it (aggregated). Over
   * budget, the failure is only counted, and the caller answers 429 with the returned `Retry-After`.
   */
  async fail(failure: Failure): Promise<FailureVerdict> {
    const now = this.#options.clock();
    const start = windowStart(now, WINDOW_MS);
    const address = budgetAddress(failure.entry.ip);
    const known = this.#overBudget.get(address);
    let verdict: FailureVerdict = { throttled: false };
    if (known !== undefined && known >= start) {
      verdict = { throttled: true, retryAfterSeconds: (known + WINDOW_MS - now) / 1000 };
    } else {
      const hit = await takeRateLimit(this.#options.db, `auth_failure:ip:${address}`, start);
      if (hit.count > this.#options.perAddressPerMinute) {
        this.#overBudget.set(address, hit.windowStart);
        verdict = { throttled: true, retryAfterSeconds: (hit.windowStart + WINDOW_MS - now) / 1000 };
      }
    }
    await this.note(failure, { throttled: verdict.throttled });
    return verdict;
  }

  /**
   * Records a failure without charging a budget (the caller keeps its own, or the caller is
   * authenticated): the first of its kind in the window now, the rest as one aggregate later. With
   * `throttled`, the failure was refused by a budget and is only ever aggregated.
   */
  async note(failure: Failure, options: { throttled?: boolean } = {}): Promise<void> {
    this.#refusalListener?.(failure.entry, options.throttled === true);
    if (this.#closed) return;
    await this.#rollover();
    const { entry } = failure;
    const address = budgetAddress(entry.ip);
    const throttled = options.throttled === true;
    // Alike: the same event with the same details (its reason among them) about the same subject from
    // the same address. Never the user agent, which the caller chooses freely.
    const key = throttled
      ? `${entry.event}\0throttled\0${address}`
      : `${entry.event}\0${address}\0${failure.subject ?? ''}\0${entry.actor.type}:${entry.actor.id ?? ''}\0${entry.clientId ?? ''}\0${JSON.stringify(entry.detail ?? {})}`;
    const known = this.#kinds.get(key);
    if (known) {
      known.count += 1;
      return;
    }
    if (this.#kinds.size >= (this.#options.maxKinds ?? DEFAULT_MAX_KINDS)) {
      const overflow = `${entry.event}\0overflow`;
      const kind = this.#kinds.get(overflow);
      if (kind) kind.count += 1;
      else
        this.#kinds.set(overflow, {
          entry: {
            event: entry.event,
            outcome: 'failure',
            actor: { type: 'anonymous' },
            detail: { reason: 'many_kinds' },
          },
          count: 1,
        });
      return;
    }
    if (throttled) {
      this.#kinds.set(key, {
        entry: {
          event: entry.event,
          outcome: 'failure',
          actor: { type: 'anonymous' },
          ip: entry.ip ?? null,
          detail: { reason: 'rate_limited', ...(address !== entry.ip ? { address } : {}) },
        },
        count: 1,
      });
      return;
    }
    this.#kinds.set(key, { entry, count: 0 });
    await this.#options.audit.record(entry);
  }

  /** Writes the aggregates of a window that has ended. */
  async #rollover(): Promise<void> {
    const start = windowStart(this.#options.clock(), WINDOW_MS);
    if (start === this.#window) return;
    await this.#writeWindow(start);
  }

  /** Ends the current window now and writes its aggregates; `next` starts the following one. */
  async #writeWindow(next: number): Promise<void> {
    const window = this.#window;
    const kinds = this.#kinds;
    this.#window = next;
    this.#kinds = new Map();
    for (const [address, start] of this.#overBudget) if (start < next) this.#overBudget.delete(address);
    const records: Array<Promise<void>> = [];
    // A window ended early (a flush on close) says so: it ends now.
    const end = Math.max(window, Math.min(window + WINDOW_MS, this.#options.clock()));
    for (const { entry, count } of kinds.values()) {
      if (count === 0) continue;
      records.push(
        this.#options.audit.record({
          ...entry,
          userAgent: null,
          // One record for many requests: none of their ids is its own.
          requestId: null,
          detail: {
            ...entry.detail,
            count,
            window_start: new Date(window).toISOString(),
            window_end: new Date(end).toISOString(),
          },
        }),
      );
    }
    await Promise.all(records);
  }

  /** Writes every pending aggregate now (the current window ends early). */
  flush(): Promise<void> {
    return this.#writeWindow(windowStart(this.#options.clock(), WINDOW_MS));
  }

  /** Stops the timer and writes what is pending. Call before the audit log closes. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
    this.#closed = true;
  }
}
