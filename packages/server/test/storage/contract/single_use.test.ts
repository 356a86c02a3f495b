/**
 * Replay markers, API-key uses, rate-limit counters and refresh-token rotation, on both dialects: each
 * guarded transition is won by exactly as many parallel callers as it allows (one, or the uses left),
 * refused afterwards, refused past expiry, and the same on every path an op runs on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../../test/support/dialects.js';
import { countStatements } from '../../../../../test/support/statements.js';
import { addApiKeyUsage, consumeApiKeyUse } from '../../../src/api_keys/api_key_store.js';
import {
  findRefreshToken,
  insertFamily,
  insertRefreshToken,
  lockLiveFamily,
  markRotated,
  recordFamilyAccessToken,
  revokeFamily,
} from '../../../src/refresh/refresh_store.js';
import { hitRateLimit, refundRateLimit, takeRateLimit } from '../../../src/storage/rate_limits.js';
import { claimOnce, purgeReplayGuard } from '../../../src/storage/replay_guard.js';
import { runOp } from '../../../src/storage/store_op.js';
import { type ContractStore, insertApiKey, openContractStore, opPaths, race, wins } from './store.js';

const N = 12;

describe.each(dialects)('single-use store contract (%s)', (dialect) => {
  let store: ContractStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  async function open(): Promise<ContractStore> {
    store = await openContractStore(dialect);
    return store;
  }

  describe('claimOnce', () => {
    it(`${N} parallel claims of one key over every path and two instances: exactly one wins`, async () => {
      const s = await open();
      const outcomes = await race(s, N, () => claimOnce('jti:one', s.clock.now + 60_000));
      expect(wins(outcomes)).toBe(1);
      for (const path of opPaths(s))
        expect(await path.run(claimOnce('jti:one', s.clock.now + 60_000))).toBe(false);
    });

    it('every path: the first claim of a key wins, the second is refused, another key is free', async () => {
      const s = await open();
      for (const [i, path] of opPaths(s).entries()) {
        const until = s.clock.now + 60_000;
        expect([
          await path.run(claimOnce(`jti:path:${i}`, until)),
          await path.run(claimOnce(`jti:path:${i}`, until)),
          await path.run(claimOnce(`jti:path:${i}:other`, until)),
        ]).toEqual([true, false, true]);
      }
    });

    it('claims that arrive together apart from their records: the first claim of each free key wins', async () => {
      const s = await open();
      const until = s.clock.now + 60_000;
      expect(await runOp(s.other, claimOnce('jti:taken', until))).toBe(true);
      const counter = s.dialect === 'postgres' ? countStatements(s.db) : undefined;
      const keys = ['jti:a', 'jti:b', 'jti:a', 'jti:taken', 'jti:c', 'jti:b', 'jti:a'];
      const outcomes = await Promise.all(
        keys.map((key) => s.audit.run(claimOnce(key, until), () => null, { mayCommitApart: true })),
      );
      expect(outcomes).toEqual([true, true, false, false, true, false, false]);
      // The first claim goes out at once, alone; the six that arrive meanwhile are one statement.
      if (counter) expect(counter.texts).toHaveLength(2);
      const rows = await s.db.selectFrom('replay_guard').select('key').orderBy('key').execute();
      expect(rows.map((r) => r.key)).toEqual(['jti:a', 'jti:b', 'jti:c', 'jti:taken']);
    });

    it('an expired claim still refuses until it is purged; then the key is free again', async () => {
      const s = await open();
      const now = s.clock.now;
      expect(await runOp(s.db, claimOnce('jti:old', now - 1))).toBe(true);
      expect(await runOp(s.other, claimOnce('jti:old', now + 60_000))).toBe(false);
      expect(await purgeReplayGuard(s.db, now)).toBe(1);
      expect(await runOp(s.other, claimOnce('jti:old', now + 60_000))).toBe(true);
    });
  });

  describe('consumeApiKeyUse', () => {
    it(`${N} parallel uses of a key with 3 uses: exactly 3 succeed, leaving 2, 1 and 0; then none`, async () => {
      const s = await open();
      const now = s.clock.now;
      await insertApiKey(s.db, 'key_three', now, { max_uses: 3 });
      const outcomes = await race(s, N, () => consumeApiKeyUse('key_three', now, '203.0.113.9'));
      expect(wins(outcomes)).toBe(3);
      expect(outcomes.filter((o) => o !== null).sort()).toEqual([0, 1, 2]);
      for (const path of opPaths(s))
        expect(await path.run(consumeApiKeyUse('key_three', now, null))).toBeNull();
      const row = await s.db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', 'key_three')
        .executeTakeFirst();
      expect(Number(row?.uses)).toBe(3);
      expect(row?.last_used_ip).toBe('203.0.113.9');
    });

    it('an expired, a revoked and an unlimited key are never consumed, on any path', async () => {
      const s = await open();
      const now = s.clock.now;
      await insertApiKey(s.db, 'key_expired', now - 10_000, { expires_at: now });
      await insertApiKey(s.db, 'key_revoked', now, { revoked_at: now - 1 });
      await insertApiKey(s.db, 'key_unlimited', now, { max_uses: null });
      for (const path of opPaths(s)) {
        for (const id of ['key_expired', 'key_revoked', 'key_unlimited', 'key_unknown']) {
          expect(await path.run(consumeApiKeyUse(id, now, null))).toBeNull();
        }
      }
      const uses = await s.db.selectFrom('api_keys').select(['id', 'uses']).orderBy('id').execute();
      expect(uses.map((u) => Number(u.uses))).toEqual([0, 0, 0]);
    });

    it('every path gives the same remaining uses for the same sequence', async () => {
      const s = await open();
      const now = s.clock.now;
      for (const [i, path] of opPaths(s).entries()) {
        await insertApiKey(s.db, `key_seq_${i}`, now, { max_uses: 2 });
        const seen = [];
        for (let use = 0; use < 3; use++)
          seen.push(await path.run(consumeApiKeyUse(`key_seq_${i}`, now, null)));
        expect(seen).toEqual([1, 0, null]);
      }
    });
  });

  describe('addApiKeyUsage', () => {
    it('parallel additions all count; the last use never moves back', async () => {
      const s = await open();
      const now = s.clock.now;
      await insertApiKey(s.db, 'key_free', now, { max_uses: null });
      await race(s, N, (i) =>
        addApiKeyUsage({
          id: 'key_free',
          count: 2,
          lastUsedAt: now + (i % 4) * 1000,
          lastUsedIp: `ip${i % 4}`,
        }),
      );
      const row = await s.db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', 'key_free')
        .executeTakeFirst();
      expect(Number(row?.uses)).toBe(2 * N);
      expect(Number(row?.last_used_at)).toBe(now + 3000);
      expect(row?.last_used_ip).toBe('ip3');
    });
  });

  describe('rate-limit counters', () => {
    it(`${N} parallel hits on two instances get the distinct counts 1…${N}`, async () => {
      const s = await open();
      const start = 1_800_000_000_000;
      const counts = await Promise.all(
        Array.from({ length: N }, (_, i) => hitRateLimit(i % 2 ? s.db : s.other, 'k:ip', start)),
      );
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    });

    it('a refund never goes below zero and is a no-op once the window moved on', async () => {
      const s = await open();
      const start = 1_800_000_000_000;
      const taken = await takeRateLimit(s.db, 'k:refund', start);
      await refundRateLimit(s.db, 'k:refund', taken.windowStart);
      await refundRateLimit(s.db, 'k:refund', taken.windowStart);
      expect(await hitRateLimit(s.db, 'k:refund', start)).toBe(1);
      expect(await hitRateLimit(s.other, 'k:refund', start + 60_000)).toBe(1);
      await refundRateLimit(s.db, 'k:refund', start);
      expect(await hitRateLimit(s.db, 'k:refund', start + 60_000)).toBe(2);
    });
  });

  describe('refresh-token rotation and reuse', () => {
    async function family(s: ContractStore, id: string) {
      const now = s.clock.now;
      await insertFamily(s.db, {
        id,
        client_id: 'cli_contract',
        user_id: 'usr_1',
        scopes: '["read"]',
        created_at: now,
        expires_at: now + 86_400_000,
        revoked_at: null,
        revoked_reason: null,
      });
      await insertRefreshToken(s.db, {
        id: `rt_${id}`,
        token_hash: `hash_rt_${id}`,
        family_id: id,
        created_at: now,
        idle_expires_at: now + 3_600_000,
        rotated_at: null,
      });
    }

    it(`${N} parallel rotations of one refresh token: exactly one may mint the successor`, async () => {
      const s = await open();
      await family(s, 'fam_rot');
      const now = s.clock.now;
      const outcomes = await Promise.all(
        Array.from({ length: N }, (_, i) => markRotated(i % 2 ? s.db : s.other, 'rt_fam_rot', now)),
      );
      expect(wins(outcomes)).toBe(1);
      expect(await markRotated(s.db, 'rt_fam_rot', now + 1)).toBe(false);
      expect((await findRefreshToken(s.db, 'hash_rt_fam_rot'))?.rotated_at).toBe(now);
    });

    it(`${N} parallel revocations (a reuse): one revokes; the live access tokens join the revocation list`, async () => {
      const s = await open();
      await family(s, 'fam_reuse');
      const now = s.clock.now;
      await recordFamilyAccessToken(s.db, 'jti_live', 'fam_reuse', now + 60_000);
      await recordFamilyAccessToken(s.db, 'jti_expired', 'fam_reuse', now - 1);
      const outcomes = await Promise.all(
        Array.from({ length: N }, (_, i) => revokeFamily(i % 2 ? s.db : s.other, 'fam_reuse', 'reuse', now)),
      );
      expect(wins(outcomes)).toBe(1);
      const revoked = await s.db.selectFrom('revoked_tokens').select('jti').execute();
      expect(revoked.map((r) => r.jti)).toEqual(['jti_live']);
      // A rotation that comes after the revocation finds no live family to mint into.
      expect(await s.db.transaction().execute((tx) => lockLiveFamily(tx, 'fam_reuse'))).toBeUndefined();
      expect((await findRefreshToken(s.db, 'hash_rt_fam_reuse'))?.revoked_at).toBe(now);
    });
  });
});
