/**
 * Per-caller rate limit of the admin API: a budget of calls per minute for each token holder, counted in
 * the database (shared by every instance), answered 429 `rate-limited` with `Retry-After` when spent and
 * recorded as a refusal. Unauthenticated callers never reach it: their refusals are charged to their
 * address by the failure log, as at the token endpoint.
 */
import type { Kysely } from 'kysely';
import type { FailureLog } from '../audit/failure_log.js';
import { refuseWith } from '../audit/refuse.js';
import { takeRateLimit, windowStart } from '../storage/rate_limits.js';
import type { Database } from '../storage/schema.js';
import type { AdminCaller } from './authorization.js';
import { Problem } from './problem.js';

/** Calls per caller per minute: far above what a person or a script administering does. */
export const ADMIN_CALLS_PER_MINUTE = 600;
const WINDOW_MS = 60_000;

export class CallerRateLimit {
  readonly #options: { db: Kysely<Database>; clock: () => number; failures: FailureLog; perMinute: number };

  constructor(options: {
    db: Kysely<Database>;
    clock: () => number;
    failures: FailureLog;
    perMinute?: number;
  }) {
    this.#options = { ...options, perMinute: options.perMinute ?? ADMIN_CALLS_PER_MINUTE };
  }

  /** Counts one call of `caller`; over budget, records the refusal and throws 429. */
  async take(caller: AdminCaller, operation: string): Promise<void> {
    const now = this.#options.clock();
    const hit = await takeRateLimit(this.#options.db, `admin_api:${caller.key}`, windowStart(now, WINDOW_MS));
    if (hit.count <= this.#options.perMinute) return;
    const retryAfter = Math.max(1, Math.ceil((hit.windowStart + WINDOW_MS - now) / 1000));
    await refuseWith(
      this.#options.failures,
      {
        entry: {
          event: 'admin_api.refuse',
          outcome: 'failure',
          actor: { type: caller.actor.type, id: caller.actor.id },
          clientId: caller.clientId,
          ip: caller.actor.ip ?? null,
          userAgent: caller.actor.userAgent ?? null,
          detail: { operation, reason: 'rate_limited', jti: caller.jti },
        },
        subject: caller.key,
      },
      new Problem('rate-limited', 'too many admin API calls; retry later', {
        headers: { 'retry-after': String(retryAfter) },
      }),
      { charge: false },
    );
  }
}
