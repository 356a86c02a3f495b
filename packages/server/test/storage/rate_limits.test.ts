import { openDatabase } from '@clavis/server';
import { afterEach, describe, expect, it } from 'vitest';
import { TestClock } from '../../../../test/support/clock.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { hitRateLimit, refundRateLimit, takeRateLimit, windowStart } from '../../src/storage/rate_limits.js';

const MINUTE = 60_000;

describe.each(dialects)('fixed-window counters across skewed clocks (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    await database?.drop();
    close = undefined;
    database = undefined;
  });

  async function open() {
    database = await createTestDatabase(dialect);
    const opened = await openDatabase(database.url);
    close = () => opened.close();
    return opened.db;
  }

  // Two instances share one counter; the leading one has crossed into the next window, the lagging
  // one (2 s behind) has not yet.
  const boundary = Date.UTC(2026, 10, 28, 12, 1, 0);
  const leading = new TestClock(boundary + 1_000);
  const lagging = new TestClock(boundary - 1_000);

  it('R-07: a hit from a lagging clock never resets a counter a leading clock moved on', async () => {
    const db = await open();
    const counts: number[] = [];
    for (let i = 0; i < 6; i++) {
      const clock = i % 2 === 0 ? leading : lagging;
      counts.push(await hitRateLimit(db, 'sign_in:ip:203.0.113.7', windowStart(clock.read(), MINUTE)));
    }
    expect(counts).toEqual([1, 2, 3, 4, 5, 6]);
    const row = await db.selectFrom('rate_limits').selectAll().executeTakeFirstOrThrow();
    expect(Number(row.window_start)).toBe(boundary);
  });

  it('a lagging clock counts into the current window, and a newer window restarts the count', async () => {
    const db = await open();
    const key = 'user_code:global';
    expect(await hitRateLimit(db, key, windowStart(lagging.read(), MINUTE))).toBe(1);
    expect(await hitRateLimit(db, key, windowStart(lagging.read(), MINUTE))).toBe(2);
    // The leading clock opens the next window: a fresh count.
    expect(await hitRateLimit(db, key, windowStart(leading.read(), MINUTE))).toBe(1);
    // The lagging clock's hit lands in that newer window instead of dragging the counter back.
    const taken = await takeRateLimit(db, key, windowStart(lagging.read(), MINUTE));
    expect(taken).toEqual({ count: 2, windowStart: boundary });
    // A refund goes back to the window the hit was counted in.
    await refundRateLimit(db, key, taken.windowStart);
    expect(await hitRateLimit(db, key, windowStart(leading.read(), MINUTE))).toBe(2);
  });
});
