import { createSecretKey, randomBytes } from 'node:crypto';
import { type AuditEntry, listAudit, openDatabase, parseDatabaseUrl, verifyAuditLog } from '@clavis/server';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../../../../test/support/audit.js';
import { createTestDatabase, dialects } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { recordHash, segmentGenesis } from '../../src/audit/chain.js';
import { migrationProvider } from '../../src/storage/migrations/index.js';
import { nothing, statement } from '../../src/storage/store_op.js';

function entry(n: number | string): AuditEntry {
  return {
    event: 'token.issue',
    actor: { type: 'client', id: 'svc_test' },
    clientId: 'svc_test',
    ip: '192.0.2.1',
    userAgent: 'vitest',
    detail: { n },
  };
}

describe.each(dialects)('audit log (%s)', (dialect) => {
  const open: TestServer[] = [];
  afterEach(async () => {
    for (const s of open.splice(0).reverse()) await s.close();
  });

  async function start(database?: TestServer['database'], clock?: TestServer['clock']): Promise<TestServer> {
    const s = await createTestServer(dialect, {
      ...(database ? { database } : {}),
      ...(clock ? { clock } : {}),
    });
    open.push(s);
    return s;
  }

  /** A server whose segment holds records 1..n, all sealed. */
  async function sealedLog(n = 5): Promise<{ server: TestServer; segment: string }> {
    const server = await start();
    for (let i = 1; i <= n; i++) await server.services.audit.record(entry(i));
    await server.services.audit.seal();
    return { server, segment: server.services.audit.segment };
  }

  function rows(server: TestServer, segment: string) {
    return server.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('segment', '=', segment)
      .orderBy('seq')
      .execute();
  }

  describe('chain', () => {
    it('each record links to the previous one and the untouched log verifies', async () => {
      const { server, segment } = await sealedLog(5);
      const written = await rows(server, segment);
      expect(written.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5]);
      for (let i = 1; i < written.length; i++) expect(written[i]?.prev_hash).toBe(written[i - 1]?.hash);
      expect(written.map((r) => JSON.parse(r.detail).n)).toEqual([1, 2, 3, 4, 5]);
      expect(await verifyChain(server)).toEqual({
        ok: true,
        records: 5,
        segments: 1,
        seals: 1,
        unsealed: 0,
        stale_unsealed: 0,
      });
    });

    it('records written after the last seal verify and are counted as unsealed', async () => {
      const { server } = await sealedLog(3);
      await server.services.audit.record(entry(4));
      await server.services.audit.record(entry(5));
      expect(await verifyChain(server, { now: server.clock.now })).toMatchObject({
        ok: true,
        records: 5,
        seals: 1,
        unsealed: 2,
      });
    });
  });

  describe('tampering is found, at the first broken record', () => {
    it('an updated detail', async () => {
      const { server, segment } = await sealedLog();
      await server.services.db
        .updateTable('audit_events')
        .set({ detail: JSON.stringify({ n: 'rewritten' }) })
        .where('segment', '=', segment)
        .where('seq', '=', 3)
        .execute();
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: `${segment}:3`, reason: 'content does not match its hash' },
      });
    });

    it('an updated detail whose hash was recomputed breaks the link of the next record', async () => {
      const { server, segment } = await sealedLog();
      const third = (await rows(server, segment))[2];
      if (!third) throw new Error('no third record');
      const forged = { ...third, detail: JSON.stringify({ n: 'rewritten' }) };
      await server.services.db
        .updateTable('audit_events')
        .set({ detail: forged.detail, hash: recordHash(server.services.auditKey, forged) })
        .where('segment', '=', segment)
        .where('seq', '=', 3)
        .execute();
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: `${segment}:4`, reason: 'does not link to the previous record' },
      });
    });

    it('a rewritten chain (every later hash recomputed) is caught by the seal', async () => {
      const { server, segment } = await sealedLog();
      const all = await rows(server, segment);
      let prev = all[1]?.hash ?? '';
      for (const row of all.slice(2)) {
        const forged = {
          ...row,
          detail: row.seq === 3 ? JSON.stringify({ n: 'rewritten' }) : row.detail,
          prev_hash: prev,
        };
        const hash = recordHash(server.services.auditKey, forged);
        await server.services.db
          .updateTable('audit_events')
          .set({ detail: forged.detail, prev_hash: prev, hash })
          .where('segment', '=', segment)
          .where('seq', '=', row.seq)
          .execute();
        prev = hash;
      }
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: `${segment}:5`, reason: 'differs from seal 1' },
      });
    });

    it('a deleted middle record', async () => {
      const { server, segment } = await sealedLog();
      await server.services.db
        .deleteFrom('audit_events')
        .where('segment', '=', segment)
        .where('seq', '=', 3)
        .execute();
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: `${segment}:3`, reason: 'record missing' },
      });
    });

    it('a deleted tail that was sealed', async () => {
      const { server, segment } = await sealedLog();
      await server.services.db
        .deleteFrom('audit_events')
        .where('segment', '=', segment)
        .where('seq', '>=', 4)
        .execute();
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: `${segment}:4`, reason: 'record missing (sealed up to 5)' },
      });
    });

    it('a deleted segment whose records were sealed', async () => {
      const { server, segment } = await sealedLog();
      await server.services.db.deleteFrom('audit_events').where('segment', '=', segment).execute();
      await server.services.db.deleteFrom('audit_segments').where('id', '=', segment).execute();
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: `${segment}:1`, reason: 'sealed segment is missing' },
      });
    });

    it('an altered seal', async () => {
      const { server, segment } = await sealedLog();
      const head = (await rows(server, segment))[3];
      await server.services.db
        .updateTable('audit_seals')
        .set({ segment_hash: head?.hash ?? '', segment_seq: 4 })
        .where('seq', '=', 1)
        .execute();
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: 'seal:1', reason: 'content does not match its hash' },
      });
    });

    it('a deleted seal in the middle of the seal chain', async () => {
      const { server } = await sealedLog(2);
      await server.services.audit.record(entry(3));
      await server.services.audit.seal();
      await server.services.audit.record(entry(4));
      await server.services.audit.seal();
      expect((await verifyChain(server)).seals).toBe(3);
      await server.services.db.deleteFrom('audit_seals').where('seq', '=', 2).execute();
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: 'seal:2', reason: 'seal missing' },
      });
    });

    it('a forged record appended with a made-up hash', async () => {
      const { server, segment } = await sealedLog();
      const last = (await rows(server, segment))[4];
      if (!last) throw new Error('no fifth record');
      await server.services.db
        .insertInto('audit_events')
        .values({
          ...last,
          seq: 6,
          detail: JSON.stringify({ n: 'forged' }),
          prev_hash: last.hash,
          hash: 'f'.repeat(64),
        })
        .execute();
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: `${segment}:6`, reason: 'content does not match its hash' },
      });
    });

    it('a forged record in a segment no writer opened', async () => {
      const { server, segment } = await sealedLog();
      const last = (await rows(server, segment))[4];
      if (!last) throw new Error('no fifth record');
      const forged = { ...last, segment: 'seg_forged', seq: 1, detail: JSON.stringify({ n: 'forged' }) };
      await server.services.db
        .insertInto('audit_events')
        .values({ ...forged, hash: recordHash(server.services.auditKey, forged) })
        .execute();
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: 'seg_forged:1', reason: 'record of an unknown segment' },
      });
    });

    it('a record forged without the chain key is detected, even after the last seal', async () => {
      const { server, segment } = await sealedLog();
      const last = (await rows(server, segment))[4];
      if (!last) throw new Error('no fifth record');
      const forged = { ...last, seq: 6, detail: JSON.stringify({ n: 'forged' }), prev_hash: last.hash };
      const attackerKey = createSecretKey(randomBytes(32));
      await server.services.db
        .insertInto('audit_events')
        .values({ ...forged, hash: recordHash(attackerKey, forged) })
        .execute();
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: `${segment}:6`, reason: 'content does not match its hash' },
      });
    });

    it('only a holder of the chain key can append a tail that verifies; it is reported as unsealed', async () => {
      const { server, segment } = await sealedLog();
      const last = (await rows(server, segment))[4];
      if (!last) throw new Error('no fifth record');
      const forged = { ...last, seq: 6, detail: JSON.stringify({ n: 'forged' }), prev_hash: last.hash };
      await server.services.db
        .insertInto('audit_events')
        .values({ ...forged, hash: recordHash(server.services.auditKey, forged) })
        .execute();
      expect(await verifyChain(server, { now: server.clock.now })).toMatchObject({
        ok: true,
        records: 6,
        unsealed: 1,
      });
    });

    it("a row squatting on the writer's next seq does not stop the log: it continues in a new segment", async () => {
      const { server, segment } = await sealedLog();
      const last = (await rows(server, segment))[4];
      if (!last) throw new Error('no fifth record');
      const squatter = { ...last, seq: 6, detail: JSON.stringify({ n: 'squatter' }), prev_hash: last.hash };
      await server.services.db
        .insertInto('audit_events')
        .values({ ...squatter, hash: 'f'.repeat(64) })
        .execute();
      await server.services.audit.record(entry('after'));
      expect(server.services.audit.segment).not.toBe(segment);
      const moved = await rows(server, server.services.audit.segment);
      expect(moved.map((r) => [Number(r.seq), JSON.parse(r.detail).n])).toEqual([[1, 'after']]);
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: `${segment}:6`, reason: 'content does not match its hash' },
      });
    });
  });

  describe('every row is accounted for', () => {
    /** Inserts a row the schema would refuse, as someone who dropped or bypassed the constraint can. */
    async function insertBypassingCheck(server: TestServer, row: Record<string, unknown>): Promise<void> {
      const { db } = server.services;
      if (dialect === 'sqlite') {
        await sql`pragma ignore_check_constraints = on`.execute(db);
        try {
          await db
            .insertInto('audit_events')
            .values(row as never)
            .execute();
        } finally {
          await sql`pragma ignore_check_constraints = off`.execute(db);
        }
      } else {
        await sql`alter table audit_events drop constraint if exists audit_events_seq_check`.execute(db);
        await db
          .insertInto('audit_events')
          .values(row as never)
          .execute();
      }
    }

    it('the schema refuses a record whose seq is below 1 or not an integer', async () => {
      const { server, segment } = await sealedLog();
      const last = (await rows(server, segment))[4];
      if (!last) throw new Error('no fifth record');
      for (const seq of [0, -7, 0.5]) {
        await expect(
          server.services.db
            .insertInto('audit_events')
            .values({ ...last, seq, detail: JSON.stringify({ n: 'forged' }) })
            .execute(),
        ).rejects.toThrow();
      }
      expect(await verifyChain(server)).toMatchObject({
        ok: true,
        records: 5,
      });
    });

    it('forged records at seq 0 and below (constraint bypassed) fail verification and are marked in the list', async () => {
      const { server, segment } = await sealedLog();
      const last = (await rows(server, segment))[4];
      if (!last) throw new Error('no fifth record');
      const forge = (seq: number, event: string) => ({
        ...last,
        seq,
        event,
        actor_type: 'admin',
        actor_id: 'os:alice@ops-laptop',
        at: last.at + 1000,
        detail: JSON.stringify({ note: 'forged' }),
        prev_hash: 'x',
        hash: 'y',
      });
      await insertBypassingCheck(server, forge(0, 'user.disable'));
      await insertBypassingCheck(server, forge(-7, 'client.delete'));
      expect(await verifyChain(server)).toMatchObject({
        ok: false,
        broken: { where: `${segment}:-7`, reason: 'not a valid sequence number' },
      });
      const listed = await listAudit(server.services.db, { limit: 3 }, server.services.auditKey);
      expect(listed.map((r) => [r.event, r.seq, r.verified])).toEqual([
        ['user.disable', 0, false],
        ['client.delete', -7, false],
        ['token.issue', 5, true],
      ]);
    });

    if (dialect === 'sqlite') {
      it('a record at a fractional seq (constraint bypassed) fails verification', async () => {
        const { server, segment } = await sealedLog();
        const second = (await rows(server, segment))[1];
        if (!second) throw new Error('no second record');
        await insertBypassingCheck(server, { ...second, seq: 2.5, detail: JSON.stringify({ n: 'forged' }) });
        expect(await verifyChain(server)).toMatchObject({
          ok: false,
          broken: { where: `${segment}:2.5`, reason: 'not a valid sequence number' },
        });
        const listed = await listAudit(server.services.db, {}, server.services.auditKey);
        expect(listed.filter((r) => !r.verified).map((r) => r.seq)).toEqual([2.5]);
      });
    }

    it('verification passes segment ids to the database without one bind parameter each', async () => {
      const server = await start();
      const { db } = server.services;
      // More segments than SQLite (32,766) or PostgreSQL (65,535) accept bind parameters in a statement.
      const count = 66_000;
      if (dialect === 'sqlite') {
        await sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < ${count})
          insert into audit_segments (id, writer, started_at, alive_until) select 'seg_empty_' || i, 'test', 0, null from n`.execute(
          db,
        );
      } else {
        await sql`insert into audit_segments (id, writer, started_at, alive_until)
          select 'seg_empty_' || i, 'test', 0, null from generate_series(1, ${count}) as i`.execute(db);
      }
      await server.services.audit.record(entry(1));
      await server.services.audit.seal();
      expect(await verifyAuditLog(db, server.services.auditKey)).toMatchObject({
        ok: true,
        records: 1,
        segments: count + 1,
      });
    });
  });

  describe('group commit', () => {
    it('200 concurrent records all land, with contiguous seq, and verify', async () => {
      const server = await start();
      const { audit, db } = server.services;
      await Promise.all(Array.from({ length: 200 }, (_, i) => audit.record(entry(i))));
      const written = await rows(server, audit.segment);
      expect(written.map((r) => Number(r.seq))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(new Set(written.map((r) => JSON.parse(r.detail).n)).size).toBe(200);
      await audit.seal();
      expect(await verifyAuditLog(db, server.services.auditKey)).toMatchObject({
        ok: true,
        records: 200,
        unsealed: 0,
      });
    });

    it('a unit whose work throws leaves neither its change nor a record; the rest of its batch commits', async () => {
      const server = await start();
      const { audit, db } = server.services;
      const put = (key: string, value: string) => (tx: Parameters<Parameters<typeof audit.transact>[0]>[0]) =>
        tx.insertInto('settings').values({ key, value }).execute();
      // Enqueued in one tick, so they share one batch (one transaction, one savepoint each).
      const outcomes = await Promise.allSettled([
        audit.transact(put('unit-a', '1'), entry('a')),
        audit.transact(async (tx) => {
          await put('unit-b', '1')(tx);
          throw new Error('work failed');
        }, entry('b')),
        // A failing statement (duplicate key): on PostgreSQL this would poison the whole transaction
        // if the unit were not rolled back to its savepoint.
        audit.transact(async (tx) => {
          await put('unit-c', '1')(tx);
          await put('unit-a', 'duplicate')(tx);
        }, entry('c')),
        audit.transact(
          async (tx) => {
            await put('unit-d', '1')(tx);
            return 'd-result';
          },
          (result) => entry(String(result)),
        ),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect(outcomes[1]?.status === 'rejected' && (outcomes[1].reason as Error).message).toBe('work failed');
      expect(outcomes[3]?.status === 'fulfilled' && outcomes[3].value).toBe('d-result');

      const settings = await db
        .selectFrom('settings')
        .selectAll()
        .where('key', 'like', 'unit-%')
        .orderBy('key')
        .execute();
      expect(settings).toEqual([
        { key: 'unit-a', value: '1' },
        { key: 'unit-d', value: '1' },
      ]);
      const written = await rows(server, audit.segment);
      expect(written.map((r) => [Number(r.seq), JSON.parse(r.detail).n])).toEqual([
        [1, 'a'],
        [2, 'd-result'],
      ]);
      // The writer's head did not move for the failed units: the next record follows on.
      await audit.record(entry('e'));
      await audit.seal();
      expect(await verifyAuditLog(db, server.services.auditKey)).toMatchObject({ ok: true, records: 3 });
    });

    it('ops of one batch run without savepoints until one fails; then the batch runs again, each in its own', async () => {
      const server = await start();
      const { audit, db } = server.services;
      const put = (key: string) =>
        statement('insert into settings (key, value) values (?, ?)', [key, '1'], nothing);
      await audit.run(put('op-taken'), entry('first'));
      const outcomes = await Promise.allSettled([
        audit.run(put('op-a'), entry('a')),
        audit.run(put('op-taken'), entry('duplicate')),
        audit.run(put('op-b'), entry('b')),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const keys = await db
        .selectFrom('settings')
        .select('key')
        .where('key', 'like', 'op-%')
        .orderBy('key')
        .execute();
      expect(keys.map((k) => k.key)).toEqual(['op-a', 'op-b', 'op-taken']);
      const written = await rows(server, audit.segment);
      expect(written.map((r) => JSON.parse(r.detail).n)).toEqual(['first', 'a', 'b']);
      await audit.seal();
      expect(await verifyAuditLog(db, server.services.auditKey)).toMatchObject({ ok: true, records: 3 });
    });

    it('a batch of one failing unit writes nothing and fails with its own error; the log goes on', async () => {
      const server = await start();
      const { audit, db } = server.services;
      await audit.record(entry('before'));
      await expect(
        audit.transact(async (tx) => {
          await tx.insertInto('settings').values({ key: 'lone', value: '1' }).execute();
          throw new Error('lone work failed');
        }, entry('lone')),
      ).rejects.toThrow('lone work failed');
      const lone = await db.selectFrom('settings').select('key').where('key', '=', 'lone').execute();
      expect(lone).toEqual([]);
      await audit.record(entry('after'));
      const written = await rows(server, audit.segment);
      expect(written.map((r) => [Number(r.seq), JSON.parse(r.detail).n])).toEqual([
        [1, 'before'],
        [2, 'after'],
      ]);
    });
  });

  describe('writers', () => {
    it('two instances each write their own segment, and both verify after sealing', async () => {
      const first = await start();
      const second = await start(first.database, first.clock);
      const a = first.services.audit;
      const b = second.services.audit;
      expect(a.segment).not.toBe(b.segment);
      await Promise.all([
        ...Array.from({ length: 30 }, (_, i) => a.record(entry(`a${i}`))),
        ...Array.from({ length: 20 }, (_, i) => b.record(entry(`b${i}`))),
      ]);
      await Promise.all([a.seal(), b.seal()]);
      expect((await rows(first, a.segment)).map((r) => Number(r.seq))).toEqual(
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      expect((await rows(first, b.segment)).map((r) => Number(r.seq))).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      expect(await verifyChain(first)).toEqual({
        ok: true,
        records: 50,
        segments: 2,
        seals: 2,
        unsealed: 0,
        stale_unsealed: 0,
      });

      // Tampering with the second writer's segment is pinned to it.
      await sql`update audit_events set ip = '203.0.113.9' where segment = ${b.segment} and seq = 7`.execute(
        first.services.db,
      );
      expect(await verifyChain(first)).toMatchObject({
        ok: false,
        broken: { where: `${b.segment}:7`, reason: 'content does not match its hash' },
      });
    });
  });
});

describe.each(dialects)('upgrading an existing audit log to the seq constraint (%s)', (dialect) => {
  it('keeps every row, refuses new out-of-chain rows, and verify reports the old ones', async () => {
    const database = await createTestDatabase(dialect);
    const { db, close } = await openDatabase(database.url, { migrate: false });
    try {
      const schema = parseDatabaseUrl(database.url).schema;
      const migrator = new Migrator({
        db,
        provider: migrationProvider,
        ...(schema ? { migrationTableSchema: schema } : {}),
      });
      expect((await migrator.migrateTo('0004_federations')).error).toBeUndefined();
      const key = createSecretKey(randomBytes(32));
      await db
        .insertInto('audit_segments')
        .values({ id: 'seg_old', writer: 'serve@old', started_at: 1 } as never)
        .execute();
      const fields = (seq: number, prev: string) => ({
        segment: 'seg_old',
        seq,
        at: 1000 + seq,
        event: 'token.issue',
        outcome: 'success' as const,
        actor_type: 'client',
        actor_id: 'svc',
        client_id: 'svc',
        ip: null,
        user_agent: null,
        detail: '{}',
        prev_hash: prev,
      });
      const first = fields(1, segmentGenesis('seg_old'));
      const firstRow = { ...first, hash: recordHash(key, first) };
      const second = fields(2, firstRow.hash);
      await db
        .insertInto('audit_events')
        .values([
          firstRow,
          { ...second, hash: recordHash(key, second) },
          { ...fields(0, 'x'), event: 'user.disable', hash: 'y' },
        ])
        .execute();

      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const kept = await db.selectFrom('audit_events').select('seq').orderBy('seq').execute();
      expect(kept.map((r) => Number(r.seq))).toEqual([0, 1, 2]);
      await expect(
        db
          .insertInto('audit_events')
          .values({ ...fields(-1, 'x'), hash: 'z' })
          .execute(),
      ).rejects.toThrow();
      // The primary key survived the rebuild.
      await expect(db.insertInto('audit_events').values(firstRow).execute()).rejects.toThrow();
      // Segments written before the upgrade have no live writer: the first serve seals them.
      expect(await db.selectFrom('audit_segments').select('alive_until').execute()).toEqual([
        { alive_until: 0 },
      ]);
      expect(await verifyAuditLog(db, key, { now: 2000 })).toMatchObject({
        ok: false,
        broken: { where: 'seg_old:0', reason: 'not a valid sequence number' },
      });
      await db.deleteFrom('audit_events').where('seq', '=', 0).execute();
      expect(await verifyAuditLog(db, key, { now: 2000 })).toMatchObject({
        ok: true,
        records: 2,
        unsealed: 2,
      });
    } finally {
      await close();
      await database.drop();
    }
  });
});
