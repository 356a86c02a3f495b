/**
 * One group-commit batch carries up to 512 unrelated requests. Whatever fails in it — a unit's work that
 * waits too long for a lock, an entry function that throws, a record the database refuses — fails only
 * the unit it came from: the others commit, and the chain still verifies.
 */
import { type AuditEntry, verifyAuditLog } from '@clavis/server';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  dialects,
  PG_BASE_URL,
  type TestDatabase,
} from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { NEW_DEVICE_CODES } from '../../src/endpoints/device_authorization.js';
import { isTransientStorageError } from '../../src/storage/errors.js';
import type { DeviceCodeRow } from '../../src/storage/schema.js';

function entry(n: number, actorId = 'svc_test'): AuditEntry {
  return {
    event: 'token.issue',
    actor: { type: 'client', id: actorId },
    clientId: 'svc_test',
    detail: { n },
  };
}

/** The test database's URL with small storage timeouts, so a lock costs a fraction of a second. */
function withTimeouts(database: TestDatabase, lockTimeout = '300ms'): TestDatabase {
  if (database.dialect !== 'postgres') return database;
  const url = new URL(database.url);
  url.searchParams.set('lock_timeout', lockTimeout);
  url.searchParams.set('statement_timeout', '2s');
  return { ...database, url: url.toString() };
}

describe.each(dialects)('a failing unit fails alone in its batch (%s)', (dialect) => {
  let server: TestServer | undefined;
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await server?.close();
    await database?.drop();
    server = undefined;
    database = undefined;
  });

  async function start(lockTimeout?: string): Promise<TestServer> {
    database = await createTestDatabase(dialect);
    server = await createTestServer(dialect, { database: withTimeouts(database, lockTimeout) });
    return server;
  }

  async function recordedNs(s: TestServer): Promise<number[]> {
    const rows = await s.services.db
      .selectFrom('audit_events')
      .select('detail')
      .where('segment', '=', s.services.audit.segment)
      .orderBy('seq')
      .execute();
    return rows.map((r) => JSON.parse(r.detail).n).filter((n) => typeof n === 'number');
  }

  it('an entry function that throws: the other units and their changes commit', async () => {
    const s = await start();
    const { audit, db } = s.services;
    const results = await Promise.allSettled([
      audit.record(entry(1)),
      audit.transact(
        (tx) => tx.insertInto('settings').values({ key: 'poisoned', value: 'x' }).execute(),
        () => {
          throw new Error('entry function failed');
        },
      ),
      audit.transact(
        (tx) => tx.insertInto('settings').values({ key: 'kept', value: 'y' }).execute(),
        entry(3),
      ),
      audit.record(entry(4)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toContain('entry function failed');
    expect(await recordedNs(s)).toEqual([1, 3, 4]);
    const keys = (await db.selectFrom('settings').select('key').execute()).map((r) => r.key);
    expect(keys).toContain('kept');
    expect(keys).not.toContain('poisoned');
    await audit.seal();
    expect(await verifyAuditLog(db, s.services.auditKey)).toMatchObject({ ok: true, unsealed: 0 });
  });

  it('a tallied row whose unique value is taken (a device code): only its unit fails, same segment', async () => {
    const s = await start();
    const { audit, db } = s.services;
    const client = (await s.createClient({ kind: 'public', scopes: ['read'] })).client.id;
    const row = (n: number, userCode: string): DeviceCodeRow => ({
      id: `dev_${n}`,
      device_code_hash: `hash_${n}`,
      user_code: userCode,
      client_id: client,
      scopes: 'read',
      status: 'pending',
      interval: 5,
      last_polled_at: null,
      created_at: 1,
      expires_at: 2,
      requester_ip: null,
      requester_user_agent: null,
      claimed_by_session: null,
      user_id: null,
      decided_at: null,
      consumed_at: null,
      family_id: null,
      auth_time: null,
      amr: null,
    });
    await audit.record(entry(0));
    const segment = audit.segment;
    // One batch: its rows would be one statement; the second row's user code is the first's.
    const results = await Promise.allSettled([
      audit.recordTallied(entry(1), NEW_DEVICE_CODES, row(1, 'BCDFGHJK')),
      audit.recordTallied(entry(2), NEW_DEVICE_CODES, row(2, 'BCDFGHJK')),
      audit.recordTallied(entry(3), NEW_DEVICE_CODES, row(3, 'LMNPQRST')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(audit.segment).toBe(segment);
    expect(await recordedNs(s)).toEqual([0, 1, 3]);
    const ids = (await db.selectFrom('device_codes').select('id').orderBy('id').execute()).map((r) => r.id);
    expect(ids).toEqual(['dev_1', 'dev_3']);
    await audit.seal();
    expect(await verifyAuditLog(db, s.services.auditKey)).toMatchObject({ ok: true, unsealed: 0 });
  });

  it.runIf(dialect === 'postgres')(
    'a record PostgreSQL refuses (a NUL byte): the other records commit',
    async () => {
      const s = await start();
      const { audit, db } = s.services;
      const results = await Promise.allSettled([
        audit.record(entry(1)),
        audit.record(entry(2, 'nul\u0000byte')),
        audit.record(entry(3)),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(await recordedNs(s)).toEqual([1, 3]);
      await audit.seal();
      expect(await verifyAuditLog(db, s.services.auditKey)).toMatchObject({ ok: true, unsealed: 0 });
    },
  );

  it.runIf(dialect === 'postgres')(
    'a unit waiting on a row another session holds gives up after lock_timeout (transient); the others commit',
    async () => {
      const s = await start();
      const { audit, db } = s.services;
      await db.insertInto('settings').values({ key: 'held', value: 'before' }).execute();
      const schema = new URL(s.database.url).searchParams.get('schema');
      const locker = new pg.Client({ connectionString: PG_BASE_URL });
      await locker.connect();
      try {
        await locker.query('begin');
        await locker.query(`select * from "${schema}".settings where key = 'held' for update`);
        const started = Date.now();
        const results = await Promise.allSettled([
          audit.record(entry(1)),
          audit.transact(
            (tx) => tx.updateTable('settings').set({ value: 'after' }).where('key', '=', 'held').execute(),
            entry(2),
          ),
          audit.record(entry(3)),
        ]);
        expect(Date.now() - started).toBeLessThan(2000);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        const reason = (results[1] as PromiseRejectedResult).reason;
        expect(reason).toMatchObject({ code: '55P03' });
        expect(isTransientStorageError(reason)).toBe(true);
        expect(await recordedNs(s)).toEqual([1, 3]);
      } finally {
        await locker.query('rollback');
        await locker.end();
      }
      const held = await db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'held')
        .executeTakeFirst();
      expect(held?.value).toBe('before');
    },
    15_000,
  );

  it.runIf(dialect === 'postgres')(
    'a deadlock with another session fails only the unit caught in it; the others commit',
    async () => {
      // lock_timeout above deadlock_timeout (1 s), so the unit's wait ends in deadlock detection.
      const s = await start('3s');
      const { audit, db } = s.services;
      await db
        .insertInto('settings')
        .values([
          { key: 'a', value: '-' },
          { key: 'b', value: '-' },
        ])
        .execute();
      const schema = new URL(s.database.url).searchParams.get('schema');
      const other = new pg.Client({ connectionString: PG_BASE_URL });
      await other.connect();
      try {
        // Only the unit's session looks for the cycle (after deadlock_timeout, 1 s), so it is the one chosen.
        await other.query(`set deadlock_timeout = '10s'`);
        await other.query('begin');
        await other.query(`update "${schema}".settings set value = 'other' where key = 'b'`);
        let holdsA: () => void = () => {};
        const unitHoldsA = new Promise<void>((resolve) => {
          holdsA = resolve;
        });
        const batch = Promise.allSettled([
          audit.record(entry(1)),
          audit.transact(async (tx) => {
            await tx.updateTable('settings').set({ value: 'unit' }).where('key', '=', 'a').execute();
            holdsA();
            await tx.updateTable('settings').set({ value: 'unit' }).where('key', '=', 'b').execute();
          }, entry(2)),
          audit.record(entry(3)),
        ]);
        await unitHoldsA;
        // The unit waits for b (held here) while this waits for a (held by the unit): a deadlock.
        const otherUpdate = other
          .query(`update "${schema}".settings set value = 'other' where key = 'a'`)
          .then(
            () => 'updated',
            (err: { code?: string }) => err.code,
          );
        const results = await batch;
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        const reason = (results[1] as PromiseRejectedResult).reason;
        expect(reason).toMatchObject({ code: '40P01' });
        expect(isTransientStorageError(reason)).toBe(true);
        expect(await otherUpdate).toBe('updated');
        await other.query('commit');
        expect(await recordedNs(s)).toEqual([1, 3]);
      } finally {
        await other.end();
      }
      const values = await db
        .selectFrom('settings')
        .select(['key', 'value'])
        .where('key', 'in', ['a', 'b'])
        .execute();
      expect(Object.fromEntries(values.map((v) => [v.key, v.value]))).toEqual({ a: 'other', b: 'other' });
    },
    15_000,
  );
});
