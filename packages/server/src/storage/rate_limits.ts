/**
 * Fixed-window counters shared by every instance (they live in the database, so N instances share one
 * budget, not N budgets). A key names what is counted (`user_code:ip:203.0.113.7`, `user_code:global`);
 * a window is identified by its start time.
 */
import { isIP } from 'node:net';
import type { Kysely } from 'kysely';
import { rawExec, rawRows } from './raw.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

/** The start of the fixed window of `windowMs` that contains `now`. */
export function windowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}

// A counter's window never moves back: with several instances whose clocks disagree, a hit computed
// from a lagging clock (still in window W) counts into the window a leading clock already opened
// (W+1) instead of restarting it. Every SET expression sees the row as it was.
const HIT_SQL = `insert into rate_limits (key, window_start, count) values (?, ?, 1)
  on conflict (key) do update set
    count = case when excluded.window_start > rate_limits.window_start then 1 else rate_limits.count + 1 end,
    window_start = case when excluded.window_start > rate_limits.window_start
      then excluded.window_start else rate_limits.window_start end
  returning count, window_start`;

/**
 * Counts one event against `key` in the window starting at `start`, and returns the count including it.
 * One atomic statement: under concurrent calls with the same key — on one instance or many — every
 * caller gets a distinct count, so callers that compare it with a limit never let more than the limit
 * through. A hit in a newer window restarts the count at 1; a hit in an older window (a lagging clock)
 * counts into the newer one.
 */
export async function hitRateLimit(db: Db, key: string, start: number): Promise<number> {
  return (await takeRateLimit(db, key, start)).count;
}

/** `hitRateLimit`, also saying which window the hit was counted in (for a refund, a `Retry-After`). */
export async function takeRateLimit(
  db: Db,
  key: string,
  start: number,
): Promise<{ count: number; windowStart: number }> {
  const rows = await rawRows<{ count: number | string; window_start: number | string }>(db, HIT_SQL, [
    key,
    start,
  ]);
  const row = rows[0];
  return { count: Number(row?.count ?? 1), windowStart: Number(row?.window_start ?? start) };
}

/**
 * Gives back one event counted in window `start` (the window `takeRateLimit` reported: an attempt
 * reserved before it was known to be harmless, e.g. a correct user code). Never goes below zero; a no-op
 * once the window moved on.
 */
export async function refundRateLimit(db: Db, key: string, start: number): Promise<void> {
  await rawExec(
    db,
    'update rate_limits set count = count - 1 where key = ? and window_start = ? and count > 0',
    [key, start],
  );
}

/** Deletes counters whose window started before `before`. Returns how many. */
export async function purgeRateLimits(db: Db, before: number): Promise<number> {
  return rawExec(db, 'delete from rate_limits where window_start < ?', [before]);
}

/**
 * The address a per-address budget is kept for: an IPv4 address as it is (also when written
 * IPv4-mapped, `::ffff:192.0.2.7`), an IPv6 address as its /64 (`2001:db8:1:2::/64`): one subscriber
 * gets a whole /64 and can rotate within it for free. Every per-address budget keys through this.
 */
export function budgetAddress(ip: string | null | undefined): string {
  if (!ip) return 'unknown';
  const address = ip.split('%')[0] ?? ip;
  if (isIP(address) === 4) return address;
  if (isIP(address) !== 6) return 'unknown';
  const groups = ipv6Groups(address);
  if (!groups) return 'unknown';
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded IPv4 tail included). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail, extra] = text.split('::');
  if (extra !== undefined) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...new Array<number>(tail === undefined ? 0 : missing).fill(0), ...right];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}
