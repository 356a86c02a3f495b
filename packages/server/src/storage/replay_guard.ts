/**
 * Single-use markers (assertion `jti`s, later DPoP proofs and TOTP steps), shared by every instance.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Claims `key` until `expiresAt`. Under concurrent calls with the same key — on one instance or many —
 * exactly one caller gets `true`. A key whose previous claim has expired is treated as still claimed
 * until it is purged; callers reject expired material before claiming anyway.
 */
export async function claimOnce(db: Kysely<Database>, key: string, expiresAt: number): Promise<boolean> {
  const result = await db
    .insertInto('replay_guard')
    .values({ key, expires_at: expiresAt })
    .onConflict((oc) => oc.column('key').doNothing())
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** Deletes expired markers. Returns how many. */
export async function purgeReplayGuard(db: Kysely<Database>, now: number): Promise<number> {
  const result = await db.deleteFrom('replay_guard').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
