/**
 * The exact-cache pattern (clients, API keys): entries served only while no commit could have changed
 * them, with a real SQLite data version and a counter standing in for a cross-instance signal.
 */
import { openDatabase } from '@clavis/server';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { type CommitVersion, ExactCache, sqliteCommitVersion } from '../../src/storage/exact_cache.js';

/** A commit version moved by hand (as a LISTEN/NOTIFY source would be, by notifications). */
class Counter implements CommitVersion {
  value: number | undefined = 1;
  current(): number | undefined {
    return this.value;
  }
}

function cache(
  version: CommitVersion,
  options: { maxEntries?: number; admits?: (v: string) => boolean } = {},
) {
  return new ExactCache<string, string>({ version, maxEntries: options.maxEntries ?? 100, ...options });
}

function fill(c: ExactCache<string, string>, key: string, value: string): void {
  const found = c.lookup(key);
  if ('hit' in found) throw new Error(`${key} already cached`);
  found.remember(value);
}

describe('ExactCache', () => {
  it('serves what it remembered until the commit version moves', () => {
    const version = new Counter();
    const c = cache(version);
    fill(c, 'a', 'A');
    expect(c.lookup('a')).toEqual({ hit: 'A' });
    version.value = 2;
    expect('hit' in c.lookup('a')).toBe(false);
  });

  it('invalidate drops every entry', () => {
    const c = cache(new Counter());
    fill(c, 'a', 'A');
    fill(c, 'b', 'B');
    c.invalidate();
    expect('hit' in c.lookup('a')).toBe(false);
    expect('hit' in c.lookup('b')).toBe(false);
  });

  it('a read that started before a commit (ours or another’s) is not kept', () => {
    const version = new Counter();
    const c = cache(version);
    const before = c.lookup('a');
    c.invalidate();
    if ('hit' in before) throw new Error('unexpected hit');
    before.remember('stale');
    expect('hit' in c.lookup('a')).toBe(false);

    const beforeOther = c.lookup('b');
    version.value = 2;
    expect('hit' in c.lookup('c')).toBe(false); // the new version is seen by some other lookup
    if ('hit' in beforeOther) throw new Error('unexpected hit');
    beforeOther.remember('stale');
    expect('hit' in c.lookup('b')).toBe(false);
  });

  it('caches nothing while the version cannot be read', () => {
    const version = new Counter();
    version.value = undefined;
    const c = cache(version);
    fill(c, 'a', 'A');
    expect('hit' in c.lookup('a')).toBe(false);
  });

  it('keeps only admitted values, and at the bound starts over', () => {
    const c = cache(new Counter(), { maxEntries: 2, admits: (v) => v !== 'no' });
    fill(c, 'x', 'no');
    expect('hit' in c.lookup('x')).toBe(false);
    fill(c, 'a', 'A');
    fill(c, 'b', 'B');
    fill(c, 'c', 'C');
    expect('hit' in c.lookup('a')).toBe(false);
    expect('hit' in c.lookup('b')).toBe(false);
    expect(c.lookup('c')).toEqual({ hit: 'C' });
  });
});

describe.each(dialects)('sqliteCommitVersion (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await database?.drop();
    database = undefined;
  });

  it('moves when another connection commits (SQLite); is never known on PostgreSQL', async () => {
    database = await createTestDatabase(dialect);
    const a = await openDatabase(database.url);
    closers.push(a.close);
    const b = await openDatabase(database.url);
    closers.push(b.close);
    const version = sqliteCommitVersion(a.db);
    const c = new ExactCache<string, string>({ version, maxEntries: 10 });
    fill(c, 'k', 'V');
    // The version is read once per event-loop turn: let the turn end.
    await new Promise((resolve) => setImmediate(resolve));
    if (dialect === 'postgres') {
      expect(version.current()).toBeUndefined();
      expect('hit' in c.lookup('k')).toBe(false);
      return;
    }
    expect(c.lookup('k')).toEqual({ hit: 'V' });
    await b.db.insertInto('replay_guard').values({ key: 'x', expires_at: 1 }).execute();
    await new Promise((resolve) => setImmediate(resolve));
    expect('hit' in c.lookup('k')).toBe(false);
  });
});
