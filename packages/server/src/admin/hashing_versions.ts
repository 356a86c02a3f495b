/**
 * The secret-hashing key's versions, as an operator sees them (crypto/hashing_keys.ts says how they
 * work): what a KEK rotation adds and drops, how many live stored hashes each version still has, and
 * retiring an older version — refused while live rows use it, unless those are revoked with it (their
 * holders then need new ones: the forced re-issue after a suspected KEK compromise).
 */
import type { Kysely } from 'kysely';
import { type HashingKeyring, MAX_LIVE_VERSIONS, withNewVersion } from '../crypto/hashing_keys.js';
import type { Kek } from '../crypto/kek.js';
import {
  deriveStableKeys,
  type StableKeys,
  unwrapStableKeys,
  WRAPPED_KEYS_SETTING,
} from '../crypto/stable_keys.js';
import { revokeFamily } from '../refresh/refresh_store.js';
import {
  countLiveUnderVersion,
  HASHED_SECRET_TABLES,
  type HashedSecretTable,
  liveIdsUnderVersion,
} from '../storage/hashed_secrets.js';
import type { Database } from '../storage/schema.js';
import { AdminError } from './errors.js';

type Db = Kysely<Database>;

/** One live version and the live stored hashes under it, per table. */
export interface HashingVersionUse {
  version: number;
  current: boolean;
  live: Record<HashedSecretTable, number>;
  /** Sum of `live`. */
  total: number;
}

/** The stable keys as stored (or, before the first rotation, derived from the KEK in use). */
export async function readStableKeys(db: Db, keks: readonly Kek[], inUse: Kek): Promise<StableKeys> {
  const wrapped = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', WRAPPED_KEYS_SETTING)
    .executeTakeFirst();
  return wrapped ? unwrapStableKeys(keks, wrapped.value).keys : deriveStableKeys(inUse);
}

async function useOf(db: Db, version: number, current: boolean, now: number): Promise<HashingVersionUse> {
  const live = await countLiveUnderVersion(db, version, now);
  return { version, current, live, total: Object.values(live).reduce((a, b) => a + b, 0) };
}

/** Every live version, the current one first, with its live stored hashes. */
export async function hashingVersionUse(
  db: Db,
  ring: HashingKeyring,
  now: number,
): Promise<HashingVersionUse[]> {
  const uses = [await useOf(db, ring.current.version, true, now)];
  for (const k of ring.older) uses.push(await useOf(db, k.version, false, now));
  return uses;
}

/**
 * The keyring after a KEK rotation: a new current version. Older versions that no live row uses are
 * dropped — all but the one just superseded (a server not yet restarted still hashes under it). Past
 * MAX_LIVE_VERSIONS with live rows on the oldest: refused.
 */
export async function rotateHashingKeys(
  db: Db,
  ring: HashingKeyring,
  now: number,
): Promise<{ ring: HashingKeyring; dropped: number[] }> {
  const next = withNewVersion(ring);
  const [superseded, ...older] = next.older;
  const kept = [];
  const dropped: number[] = [];
  for (const k of older) {
    if ((await useOf(db, k.version, false, now)).total === 0) dropped.push(k.version);
    else kept.push(k);
  }
  if (1 + 1 + kept.length > MAX_LIVE_VERSIONS) {
    const oldest = kept[kept.length - 1];
    throw new AdminError(
      `secret-hashing key version ${oldest?.version} still has live credentials and at most ${MAX_LIVE_VERSIONS} versions may be live: see kek status, then kek retire-hashes ${oldest?.version} --revoke-remaining (their holders get new ones), and rotate again`,
      'conflict',
    );
  }
  return { ring: { current: next.current, older: superseded ? [superseded, ...kept] : kept }, dropped };
}

export interface RetirePlan {
  ring: HashingKeyring;
  /** Live rows that used the version and were revoked (or deleted) with it, per table. */
  revoked: Record<HashedSecretTable, number>;
}

/**
 * Drops `version` from the keyring. Refused for the current version, an unknown one, or one that live
 * rows still use — unless `revokeRemaining`: then those are revoked first (API keys, client secrets,
 * the families of refresh tokens) or deleted (pending device codes, unused recovery codes).
 */
export async function retireHashingVersion(
  tx: Db,
  ring: HashingKeyring,
  version: number,
  options: { revokeRemaining: boolean; now: number },
): Promise<RetirePlan> {
  if (version === ring.current.version) {
    throw new AdminError(
      `version ${version} is the current secret-hashing key: it cannot be retired`,
      'conflict',
    );
  }
  if (!ring.older.some((k) => k.version === version)) {
    throw new AdminError(`no live secret-hashing key version ${version} (see kek status)`, 'not_found');
  }
  const { now } = options;
  const use = await useOf(tx, version, false, now);
  if (use.total > 0 && !options.revokeRemaining) {
    const parts = HASHED_SECRET_TABLES.filter((t) => use.live[t] > 0).map((t) => `${use.live[t]} ${t}`);
    throw new AdminError(
      `version ${version} still stores live credentials (${parts.join(', ')}): they are re-keyed when next used; to revoke them now (their holders get new ones) add --revoke-remaining`,
      'conflict',
    );
  }
  const revoked = { ...use.live };
  if (use.total > 0) {
    for (const table of HASHED_SECRET_TABLES) {
      if (use.live[table] === 0) continue;
      const ids = await liveIdsUnderVersion(tx, table, version, now);
      revoked[table] = await revokeRows(tx, table, ids, now);
    }
  }
  return { ring: { current: ring.current, older: ring.older.filter((k) => k.version !== version) }, revoked };
}

const REASON = 'hashing_key_retired';

async function revokeRows(tx: Db, table: HashedSecretTable, ids: string[], now: number): Promise<number> {
  let n = 0;
  for (const id of ids) {
    if (table === 'refresh_tokens') {
      // The whole family, and the access tokens it produced.
      if (await revokeFamily(tx, id, REASON, now)) n++;
      continue;
    }
    const changed =
      table === 'api_keys'
        ? await tx
            .updateTable('api_keys')
            .set({ revoked_at: now, revoked_reason: REASON })
            .where('id', '=', id)
            .where('revoked_at', 'is', null)
            .executeTakeFirst()
        : table === 'client_secrets'
          ? await tx
              .updateTable('client_secrets')
              .set({ revoked_at: now })
              .where('id', '=', id)
              .where('revoked_at', 'is', null)
              .executeTakeFirst()
          : table === 'device_codes'
            ? await tx.deleteFrom('device_codes').where('id', '=', id).executeTakeFirst()
            : await tx.deleteFrom('recovery_codes').where('hash', '=', id).executeTakeFirst();
    n += Number('numUpdatedRows' in changed ? changed.numUpdatedRows : changed.numDeletedRows);
  }
  return n;
}
