import { openDatabase } from '@clavis/server';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/dialects.js';

/** The node:sqlite driver's own guarantees: one connection, so transactions must be serialised. */
describe('node:sqlite dialect', () => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('never interleaves two transactions on one Kysely instance: 50 parallel read-then-write increments give 50', async () => {
    database = await createTestDatabase('sqlite');
    const { db, close } = await openDatabase(database.url);
    try {
      await db.insertInto('settings').values({ key: 'counter', value: '0' }).execute();
      await Promise.all(
        Array.from({ length: 50 }, () =>
          db.transaction().execute(async (tx) => {
            const row = await tx
              .selectFrom('settings')
              .select('value')
              .where('key', '=', 'counter')
              .executeTakeFirstOrThrow();
            // Yield to the event loop between the read and the write: every other transaction gets its chance.
            await new Promise((resolve) => setImmediate(resolve));
            await tx
              .updateTable('settings')
              .set({ value: String(Number(row.value) + 1) })
              .where('key', '=', 'counter')
              .execute();
          }),
        ),
      );
      const final = await db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'counter')
        .executeTakeFirstOrThrow();
      expect(final.value).toBe('50');
    } finally {
      await close();
    }
  });

  it('a query outside a transaction waits for it, and sees only committed data', async () => {
    database = await createTestDatabase('sqlite');
    const { db, close } = await openDatabase(database.url);
    try {
      const events: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let inserted!: () => void;
      const hasInserted = new Promise<void>((resolve) => {
        inserted = resolve;
      });
      const tx = db
        .transaction()
        .execute(async (t) => {
          await t.insertInto('settings').values({ key: 'pending', value: '1' }).execute();
          inserted();
          await gate;
          events.push('transaction ends');
          throw new Error('roll back');
        })
        .catch((err: Error) => err.message);
      // The transaction holds the connection with an uncommitted row when this query is issued.
      await hasInserted;
      const outside = db
        .selectFrom('settings')
        .select('key')
        .where('key', '=', 'pending')
        .execute()
        .then((rows) => {
          events.push('outside query answers');
          return rows;
        });
      await new Promise((resolve) => setImmediate(resolve));
      release();
      expect(await tx).toBe('roll back');
      expect(await outside).toEqual([]);
      expect(events).toEqual(['transaction ends', 'outside query answers']);
    } finally {
      await close();
    }
  });

  it('a failed transaction rolls back and the connection stays usable', async () => {
    database = await createTestDatabase('sqlite');
    const { db, close } = await openDatabase(database.url);
    try {
      await expect(
        db.transaction().execute(async (tx) => {
          await tx.insertInto('settings').values({ key: 'x', value: '1' }).execute();
          await tx.insertInto('settings').values({ key: 'x', value: '2' }).execute();
        }),
      ).rejects.toThrow();
      expect(await db.selectFrom('settings').selectAll().where('key', '=', 'x').execute()).toEqual([]);
      await db.insertInto('settings').values({ key: 'x', value: '3' }).execute();
      expect(await db.selectFrom('settings').selectAll().where('key', '=', 'x').execute()).toEqual([
        { key: 'x', value: '3' },
      ]);
    } finally {
      await close();
    }
  });
});
