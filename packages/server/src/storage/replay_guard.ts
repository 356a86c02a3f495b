/**
 * Single-use markers (assertion `jti`s, later DPoP proofs and TOTP steps), shared by every instance.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { type StepResult, type StoreOp, statement } from './store_op.js';

/**
 * Claims `key` until `expiresAt`. Under concurrent calls with the same key — on one instance or many —
 * exactly one caller gets `true`. A key whose previous claim has expired is treated as still claimed
 * until it is purged; callers reject expired material before claiming anyway.
 */
export function claimOnce(key: string, expiresAt: number): StoreOp<boolean> {
  return statement(
    'insert into replay_guard (key, expires_at) values (?, ?) on conflict (key) do nothing',
    [key, expiresAt],
    changedAny,
  );
}

const changedAny = ({ changes }: StepResult): boolean => changes > 0;

/** Deletes expired markers. Returns how many. */
export async function purgeReplayGuard(db: Kysely<Database>, now: number): Promise<number> {
  const result = await db.deleteFrom('replay_guard').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
