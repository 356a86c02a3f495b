/**
 * The device-code transitions, on both dialects and every path: the poll slot (on time or slow_down),
 * the browser session's claim, the decision, the consumption — each exactly once under parallel callers,
 * refused again afterwards, and refused once the code has expired.
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../../test/support/dialects.js';
import { countStatements } from '../../../../../test/support/statements.js';
import { AuditLog } from '../../../src/audit/audit_log.js';
import {
  claimDeviceCode,
  consumeDeviceCode,
  decideDeviceCode,
  findDeviceCode,
  insertDeviceCode,
  recordPoll,
} from '../../../src/device/device_store.js';
import type { DeviceCodeRow } from '../../../src/storage/schema.js';
import { runOp } from '../../../src/storage/store_op.js';
import { type ContractStore, deviceCodeRow, openContractStore, opPaths, race, wins } from './store.js';

const N = 12;

describe.each(dialects)('device code store contract (%s)', (dialect) => {
  let store: ContractStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  async function open(): Promise<ContractStore> {
    store = await openContractStore(dialect);
    return store;
  }

  describe('recordPoll', () => {
    it(`${N} parallel polls of one code: exactly one is on time, the rest slow_down and add 5 s each`, async () => {
      const s = await open();
      await runOp(s.db, insertDeviceCode(deviceCodeRow('dev_race', s.clock.now)));
      const outcomes = await race(s, N, () => recordPoll('dev_race', s.clock.now));
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'slow_down')).toHaveLength(N - 1);
      const row = await findDeviceCode(s.db, 'dev_race');
      expect(Number(row?.interval)).toBe(5 + 5 * (N - 1));
      expect(Number(row?.last_polled_at)).toBe(s.clock.now);
    });

    it('every path gives the same answers for the same polls: on time, too fast, on time again', async () => {
      const s = await open();
      const start = s.clock.now;
      const answers: Record<string, unknown[]> = {};
      for (const [i, path] of opPaths(s).entries()) {
        const id = `dev_path_${i}`;
        await runOp(s.db, insertDeviceCode(deviceCodeRow(id, start)));
        const seen: unknown[] = [];
        for (const at of [start, start + 1_000, start + 5_000, start + 20_000]) {
          seen.push(await path.run(recordPoll(id, at)));
        }
        const row = await findDeviceCode(s.db, id);
        seen.push(Number(row?.interval), Number(row?.last_polled_at) - start);
        answers[path.name] = seen;
      }
      // 0 s on time; 1 s too fast (interval 10); 5 s too fast again (interval 15); 20 s on time.
      for (const seen of Object.values(answers)) {
        expect(seen).toEqual(['ok', 'slow_down', 'slow_down', 'ok', 15, 20_000]);
      }
    });

    it('polls that arrive together apart from their records get the answers each would have had alone', async () => {
      const s = await open();
      const now = s.clock.now;
      for (const id of ['dev_a', 'dev_b', 'dev_c']) {
        await runOp(s.db, insertDeviceCode(deviceCodeRow(id, now - 10_000)));
      }
      // dev_c was polled a second ago: its next poll is too fast.
      await runOp(s.db, recordPoll('dev_c', now - 1_000));
      const counter = s.dialect === 'postgres' ? countStatements(s.db) : undefined;
      const ids = ['dev_a', 'dev_b', 'dev_a', 'dev_nope', 'dev_c', 'dev_a', 'dev_b'];
      const outcomes = await Promise.all(
        ids.map((id) => s.audit.run(recordPoll(id, now), () => null, { mayCommitApart: true })),
      );
      expect(outcomes).toEqual(['ok', 'ok', 'slow_down', 'slow_down', 'slow_down', 'slow_down', 'slow_down']);
      const rows = await s.db
        .selectFrom('device_codes')
        .select(['id', 'interval', 'last_polled_at'])
        .execute();
      expect(
        Object.fromEntries(rows.map((r) => [r.id, [Number(r.interval), Number(r.last_polled_at) - now]])),
      ).toEqual({ dev_a: [15, 0], dev_b: [10, 0], dev_c: [10, 0] });
      if (counter) {
        // The first poll goes out at once, alone; the six that arrive meanwhile are one statement.
        expect(counter.texts.filter((t) => t.startsWith('with polled'))).toHaveLength(1);
        expect(counter.count).toBeLessThanOrEqual(3);
      }
    });

    it.skipIf(dialect !== 'postgres')(
      'batches of polls on two instances that wait for the same code: one on time, the other reads its poll',
      async () => {
        const s = await open();
        const now = s.clock.now;
        for (const id of ['dev_held', 'dev_free']) {
          await runOp(s.db, insertDeviceCode(deviceCodeRow(id, now - 10_000)));
        }
        const second = await AuditLog.open(s.other, {
          clock: s.clock.read,
          key: createSecretKey(randomBytes(32)),
          writer: 'contract-2',
        });
        const apart = (log: AuditLog, id: string) =>
          log.run(recordPoll(id, now), () => null, { mayCommitApart: true });
        try {
          let polls: Array<Promise<string>> = [];
          // A third party holds the code's row, so both instances' batches read it before either
          // writes: each must lock the row before judging the poll, or both would find it on time.
          await s.db.transaction().execute(async (tx) => {
            await sql`select id from device_codes where id = 'dev_held' for update`.execute(tx);
            for (const log of [s.audit, second]) {
              // The first poll goes out alone (a code nobody holds); the next three wait and are one batch.
              polls = [...polls, apart(log, 'dev_free'), ...[1, 2, 3].map(() => apart(log, 'dev_held'))];
            }
            const blocked = async () => {
              const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
                where wait_event_type = 'Lock' and query like 'with polled%'`.execute(s.other);
              return rows[0]?.n ?? 0;
            };
            for (let i = 0; i < 200 && (await blocked()) < 2; i++) {
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
            expect(await blocked()).toBe(2);
          });
          const outcomes = await Promise.all(polls);
          const held = outcomes.filter((_, i) => i % 4 !== 0);
          expect(held.filter((o) => o === 'ok')).toHaveLength(1);
          expect(held.filter((o) => o === 'slow_down')).toHaveLength(5);
          expect(Number((await findDeviceCode(s.db, 'dev_held'))?.interval)).toBe(5 + 5 * 5);
        } finally {
          await second.close();
        }
      },
    );

    it('a poll of an unknown code changes nothing and says slow_down', async () => {
      const s = await open();
      for (const path of opPaths(s))
        expect(await path.run(recordPoll('dev_nope', s.clock.now))).toBe('slow_down');
      expect(await s.db.selectFrom('device_codes').selectAll().execute()).toEqual([]);
    });
  });

  describe('claimDeviceCode', () => {
    it(`${N} sessions at once: exactly one claims the code; it keeps it, the others stay refused`, async () => {
      const s = await open();
      const now = s.clock.now;
      await runOp(s.db, insertDeviceCode(deviceCodeRow('dev_claim', now)));
      const outcomes = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          claimDeviceCode(i % 2 ? s.db : s.other, 'dev_claim', `ses_${i}`, now),
        ),
      );
      expect(wins(outcomes)).toBe(1);
      const winner = `ses_${outcomes.indexOf(true)}`;
      expect(await claimDeviceCode(s.other, 'dev_claim', winner, now)).toBe(true);
      expect(await claimDeviceCode(s.db, 'dev_claim', 'ses_late', now)).toBe(false);
    });

    it('an expired code cannot be claimed', async () => {
      const s = await open();
      const now = s.clock.now;
      await runOp(s.db, insertDeviceCode(deviceCodeRow('dev_old', now - 700_000, { expires_at: now })));
      expect(await claimDeviceCode(s.db, 'dev_old', 'ses_1', now)).toBe(false);
      expect((await findDeviceCode(s.db, 'dev_old'))?.claimed_by_session).toBeNull();
    });
  });

  describe('decideDeviceCode', () => {
    it(`${N} decisions at once by the claiming session: exactly one counts, and it is final`, async () => {
      const s = await open();
      const now = s.clock.now;
      await runOp(s.db, insertDeviceCode(deviceCodeRow('dev_decide', now, { claimed_by_session: 'ses_1' })));
      const outcomes = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          decideDeviceCode(i % 2 ? s.db : s.other, {
            id: 'dev_decide',
            sessionId: 'ses_1',
            userId: 'usr_1',
            approve: i % 3 !== 0,
            now,
          }),
        ),
      );
      expect(wins(outcomes)).toBe(1);
      const decided = await findDeviceCode(s.db, 'dev_decide');
      const winner = outcomes.indexOf(true);
      expect(decided?.status).toBe(winner % 3 !== 0 ? 'approved' : 'denied');
      expect(
        await decideDeviceCode(s.db, {
          id: 'dev_decide',
          sessionId: 'ses_1',
          userId: 'usr_1',
          approve: true,
          now,
        }),
      ).toBe(false);
    });

    it('another session, and an expired code, are refused', async () => {
      const s = await open();
      const now = s.clock.now;
      await runOp(s.db, insertDeviceCode(deviceCodeRow('dev_other', now, { claimed_by_session: 'ses_1' })));
      expect(
        await decideDeviceCode(s.db, {
          id: 'dev_other',
          sessionId: 'ses_2',
          userId: 'usr_1',
          approve: true,
          now,
        }),
      ).toBe(false);
      expect(
        await decideDeviceCode(s.db, {
          id: 'dev_other',
          sessionId: 'ses_1',
          userId: 'usr_1',
          approve: true,
          now: now + 600_000,
        }),
      ).toBe(false);
      expect((await findDeviceCode(s.db, 'dev_other'))?.status).toBe('pending');
    });
  });

  describe('consumeDeviceCode', () => {
    it(`${N} redemptions of one approved code at once: exactly one gets it, later ones are refused`, async () => {
      const s = await open();
      const now = s.clock.now;
      await runOp(
        s.db,
        insertDeviceCode(deviceCodeRow('dev_use', now, { status: 'approved', user_id: 'usr_1' })),
      );
      const outcomes = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          consumeDeviceCode(i % 2 ? s.db : s.other, 'dev_use', `fam_${i}`, now),
        ),
      );
      expect(wins(outcomes)).toBe(1);
      const row = await findDeviceCode(s.db, 'dev_use');
      expect(row?.status).toBe('consumed');
      expect(row?.family_id).toBe(`fam_${outcomes.indexOf(true)}`);
      expect(await consumeDeviceCode(s.db, 'dev_use', 'fam_again', now)).toBe(false);
    });

    it('a pending or denied code cannot be consumed', async () => {
      const s = await open();
      const now = s.clock.now;
      await runOp(s.db, insertDeviceCode(deviceCodeRow('dev_pending', now)));
      await runOp(s.db, insertDeviceCode(deviceCodeRow('dev_denied', now, { status: 'denied' })));
      expect(await consumeDeviceCode(s.db, 'dev_pending', 'fam_1', now)).toBe(false);
      expect(await consumeDeviceCode(s.db, 'dev_denied', 'fam_2', now)).toBe(false);
    });
  });

  describe('insertDeviceCode', () => {
    it('every path stores the same row; a taken id or user code is refused', async () => {
      const s = await open();
      const now = s.clock.now;
      const paths = opPaths(s);
      for (const [i, path] of paths.entries())
        await path.run(insertDeviceCode(deviceCodeRow(`dev_ins_${i}`, now)));
      const rows = await s.db.selectFrom('device_codes').selectAll().orderBy('id').execute();
      expect(rows.map((r) => normalise(r))).toEqual(paths.map(() => normalise(deviceCodeRow('', now))));
      for (const path of paths) {
        await expect(
          path.run(insertDeviceCode(deviceCodeRow('dev_ins_0', now, { user_code: 'uc_dup' }))),
        ).rejects.toThrow();
        await expect(
          path.run(insertDeviceCode(deviceCodeRow('dev_dup', now, { user_code: 'uc_dev_ins_0' }))),
        ).rejects.toThrow();
      }
      expect(await findDeviceCode(s.db, 'dev_dup')).toBeUndefined();
    });
  });
});

/** A row without what differs by design (its ids), its numbers as numbers (pg hands bigints as text). */
function normalise(row: DeviceCodeRow): Record<string, unknown> {
  const numbers = ['interval', 'last_polled_at', 'created_at', 'expires_at', 'decided_at', 'consumed_at'];
  return Object.fromEntries(
    Object.entries(row)
      .filter(([column]) => !['id', 'device_code_hash', 'user_code'].includes(column))
      .map(([column, value]) => [column, numbers.includes(column) && value !== null ? Number(value) : value]),
  );
}
