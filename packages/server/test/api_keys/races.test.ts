import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import {
  type Caller,
  createKey,
  exchange,
  INVALID_EXCHANGE,
  INVALID_VERIFY,
  keyRow,
  registerCaller,
  verify,
} from './support.js';

describe.each(dialects)('API key uses under concurrency (%s)', (dialect) => {
  let a: TestServer;
  let b: TestServer;
  let owner: Caller;
  let rs: Caller;

  beforeAll(async () => {
    a = await createTestServer(dialect);
    b = await createTestServer(dialect, { database: a.database, clock: a.clock });
    owner = await registerCaller(a);
    rs = await registerCaller(a);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('ten parallel verifications of a one-use key: exactly one succeeds', async () => {
    const { id, key } = await createKey(a, { owner: owner.id, maxUses: 1 });
    const results = await Promise.all(Array.from({ length: 10 }, () => verify(a, rs, { key })));
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.statusCode !== 200)) expect(r.json()).toEqual(INVALID_VERIFY);
    expect(Number((await keyRow(a, id)).uses)).toBe(1);
  });

  it('ten parallel exchanges of a one-use key across two instances: exactly one token', async () => {
    const { id, key } = await createKey(a, { owner: owner.id, maxUses: 1 });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => exchange(i % 2 ? b : a, key)));
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.statusCode !== 200)) expect(r.json()).toEqual(INVALID_EXCHANGE);
    expect(Number((await keyRow(a, id)).uses)).toBe(1);
  });

  it('a three-use key verified from both instances at once: exactly three succeed', async () => {
    const { id, key } = await createKey(a, { owner: owner.id, maxUses: 3 });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => verify(i % 2 ? b : a, rs, { key })),
    );
    const ok = results.filter((r) => r.statusCode === 200);
    expect(ok).toHaveLength(3);
    expect(ok.map((r) => r.json().remaining_uses).sort()).toEqual([0, 1, 2]);
    expect(Number((await keyRow(a, id)).uses)).toBe(3);
  });
});

describe.each(dialects)('API key use counts from two instances (%s)', (dialect) => {
  it('unlimited keys: uses from two instances are added, not overwritten, committed before the answer', async () => {
    const a = await createTestServer(dialect);
    const b = await createTestServer(dialect, { database: a.database, clock: a.clock });
    try {
      const owner = await registerCaller(a);
      const rs = await registerCaller(a);
      const { id, key } = await createKey(a, { owner: owner.id });
      await Promise.all(Array.from({ length: 5 }, () => verify(a, rs, { key, ip: '198.51.100.1' })));
      a.clock.advanceSeconds(1);
      await Promise.all(Array.from({ length: 7 }, () => verify(b, rs, { key, ip: '198.51.100.2' })));
      // Each use rides the audit group commit (added up per batch): durable before the answer, on both
      // dialects, nothing waiting in memory to be lost in a crash.
      const row = await keyRow(a, id);
      expect(Number(row.uses)).toBe(12);
      expect(Number(row.last_used_at)).toBe(a.clock.now);
      expect(row.last_used_ip).toBe('198.51.100.2');
    } finally {
      await b.close();
      await a.close();
    }
  });
});
