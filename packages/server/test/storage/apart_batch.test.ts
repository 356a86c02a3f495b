/**
 * Ops that commit apart, batched by kind: the first runs at once, the ones that arrive while it runs
 * go out as one statement, and a statement that fails as a whole is each op's own statements again,
 * so only an op that fails by itself fails.
 */
import { openDatabase } from '@clavis/server';
import { afterEach, describe, expect, it } from 'vitest';
import { DbProxy } from '../../../../test/support/db_proxy.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { type ApartBatch, ApartBatcher, type BatchableOp } from '../../src/storage/apart_batch.js';
import { isStorageUnreachable } from '../../src/storage/errors.js';
import type { SqlStep, StepResult } from '../../src/storage/store_op.js';

/** A kind whose op alone selects its value back; `combined` is the batch's statement. */
function kind(combined: (values: readonly number[]) => { sql: string; params: unknown[] }) {
  const batches: number[][] = [];
  const alone: number[] = [];
  const batch: ApartBatch<number, number> = {
    statement(values) {
      batches.push([...values]);
      return combined(values);
    },
    results: ({ rows }) => (rows as Array<{ v: number | string }>).map((r) => Number(r.v)),
  };
  const op = (value: number, sql = 'select ? as v'): BatchableOp<number, number> => ({
    *steps(): Generator<SqlStep, number, StepResult> {
      alone.push(value);
      const { rows } = yield { sql, params: [value] };
      return Number((rows[0] as { v: number | string }).v);
    },
    apart: { batch, value },
  });
  return { op, batches, alone };
}

describe.each(dialects)('ApartBatcher (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    await database?.drop();
    close = undefined;
    database = undefined;
  });

  async function batcher(proxy?: DbProxy): Promise<ApartBatcher> {
    database = await createTestDatabase(dialect);
    const opened = await openDatabase(proxy ? proxy.via(database.url) : database.url, { poolSize: 4 });
    close = () => opened.close();
    return new ApartBatcher(opened.db);
  }

  const unnest =
    dialect === 'postgres'
      ? (values: readonly number[]) => ({
          sql: 'select v from unnest(?::integer[]) as t(v)',
          params: [values],
        })
      : (values: readonly number[]) => ({
          sql: `select value as v from json_each(?)`,
          params: [JSON.stringify(values)],
        });

  it('the first op runs alone; those arriving meanwhile are one statement, each given its own result', async () => {
    const b = await batcher();
    const { op, batches, alone } = kind(unnest);
    const results = await Promise.all([1, 2, 3, 4, 5].map((v) => b.run(op(v))));
    expect(results).toEqual([1, 2, 3, 4, 5]);
    expect(batches).toEqual([[2, 3, 4, 5]]);
    expect(alone).toEqual([1]);
    // Nothing in flight any more: the next op runs at once, alone again.
    expect(await b.run(op(6))).toBe(6);
    expect(batches).toHaveLength(1);
  });

  it('a combined statement that fails as a whole: each op runs alone, and only one that fails alone fails', async () => {
    const b = await batcher();
    const { op, batches, alone } = kind(() => ({ sql: 'select v from no_such_table', params: [] }));
    const outcomes = await Promise.allSettled([
      b.run(op(1)),
      b.run(op(2)),
      b.run(op(3, 'select v from no_such_table where v = ?')),
      b.run(op(4)),
    ]);
    expect(batches).toEqual([[2, 3, 4]]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : 'failed'))).toEqual([1, 2, 'failed', 4]);
    expect(alone.sort()).toEqual([1, 2, 3, 4]);
  });

  it.runIf(dialect === 'postgres')(
    'the database out of reach fails every op of the batch at once, without trying each alone',
    async () => {
      const proxy = new DbProxy();
      await proxy.open();
      try {
        const b = await batcher(proxy);
        const { op, batches, alone } = kind(unnest);
        expect(await b.run(op(1))).toBe(1);
        await new Promise((resolve) => setImmediate(resolve));
        const first = b.run(op(2));
        proxy.set('refuse');
        const rest = [3, 4, 5].map((v) => b.run(op(v)).catch((err: unknown) => err));
        await first.catch(() => undefined);
        const errors = await Promise.all(rest);
        expect(batches).toEqual([[3, 4, 5]]);
        expect(errors.every((err) => isStorageUnreachable(err))).toBe(true);
        expect(alone).toEqual([1, 2]);
      } finally {
        proxy.set('pass');
        await close?.();
        close = undefined;
        await proxy.close();
      }
    },
  );
});
