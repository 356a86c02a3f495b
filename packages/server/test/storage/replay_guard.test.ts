import { openDatabase } from '@clavis/server';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { claimOnce, purgeReplayGuard } from '../../src/storage/replay_guard.js';
import { runOp } from '../../src/storage/store_op.js';

describe.each(dialects)('claimOnce (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await database?.drop();
    database = undefined;
  });

  async function openTwice() {
    database = await createTestDatabase(dialect);
    const a = await openDatabase(database.url, { poolSize: 10 });
    closers.push(a.close);
    const b = await openDatabase(database.url, { poolSize: 10 });
    closers.push(b.close);
    return [a.db, b.db] as const;
  }

  const count = (outcomes: boolean[]) => outcomes.filter(Boolean).length;

  it('R-04: 20 concurrent claims of one key on one instance: exactly one wins', async () => {
    const [db] = await openTwice();
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => runOp(db, claimOnce('k:one', 2_000_000_000_000))),
    );
    expect(count(outcomes)).toBe(1);
    expect(await db.selectFrom('replay_guard').selectAll().execute()).toEqual([
      { key: 'k:one', expires_at: 2_000_000_000_000 },
    ]);
  });

  it('R-04: 20 concurrent claims of one key across two instances on one database: exactly one wins', async () => {
    const [a, b] = await openTwice();
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => runOp(i % 2 ? a : b, claimOnce('k:shared', 2_000_000_000_000))),
    );
    expect(count(outcomes)).toBe(1);
    // And later claims on either instance lose too.
    expect(await runOp(a, claimOnce('k:shared', 2_000_000_000_000))).toBe(false);
    expect(await runOp(b, claimOnce('k:shared', 2_000_000_000_000))).toBe(false);
  });

  it('different keys do not block each other', async () => {
    const [a, b] = await openTwice();
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => runOp(i % 2 ? a : b, claimOnce(`k:${i}`, 2_000_000_000_000))),
    );
    expect(count(outcomes)).toBe(20);
  });

  it('a purged expired claim can be claimed again; an unexpired one stays', async () => {
    const [db] = await openTwice();
    expect(await runOp(db, claimOnce('k:old', 1000))).toBe(true);
    expect(await runOp(db, claimOnce('k:new', 3000))).toBe(true);
    expect(await purgeReplayGuard(db, 2000)).toBe(1);
    expect(await runOp(db, claimOnce('k:old', 5000))).toBe(true);
    expect(await runOp(db, claimOnce('k:new', 5000))).toBe(false);
  });
});
