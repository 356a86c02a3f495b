/**
 * Single-use markers (assertion `jti`s, later DPoP proofs and TOTP steps), shared by every instance.
 */
import type { Kysely } from 'kysely';
import type { SyncConnection } from './dialects/node_sqlite.js';
import { rawExec } from './raw.js';
import type { Database } from './schema.js';

/**
 * Claims `key` until `expiresAt`. Under concurrent calls with the same key — on one instance or many —
 * exactly one caller gets `true`. A key whose previous claim has expired is treated as still claimed
 * until it is purged; callers reject expired material before claiming anyway.
 */
export async function claimOnce(db: Kysely<Database>, key: string, expiresAt: number): Promise<boolean> {
  const changed = await rawExec(db, CLAIM_SQL, [key, expiresAt]);
  return changed > 0;
}

const CLAIM_SQL = 'insert into replay_guard (key, expires_at) values (?, ?) on conflict (key) do nothing';

/** `claimOnce` for a caller holding the SQLite connection inside a transaction. */
export function claimOnceSync(connection: SyncConnection, key: string, expiresAt: number): boolean {
  return connection.runSync(CLAIM_SQL, [key, expiresAt]).changes > 0;
}

/** Deletes expired markers. Returns how many. */
export async function purgeReplayGuard(db: Kysely<Database>, now: number): Promise<number> {
  const result = await db.deleteFrom('replay_guard').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
