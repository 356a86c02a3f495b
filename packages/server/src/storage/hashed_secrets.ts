/**
 * Where keyed hashes of secrets are stored, and what counts as still live there: what moves a stored
 * hash to the current hashing-key version when its secret is presented (`rekeyHash`), and what counts
 * the hashes still under a version (see crypto/hashing_keys.ts).
 */
import type { Kysely } from 'kysely';
import { hashVersionPattern } from '../crypto/hashing_keys.js';
import { rawExec, rawRows } from './raw.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

/** Each table holding hashes of secrets: its hash column, and the rows that may still be presented. */
const TABLES = {
  api_keys: {
    column: 'key_hash',
    from: 'api_keys t',
    live: 't.revoked_at is null and t.expires_at > ? and (t.max_uses is null or t.uses < t.max_uses)',
  },
  client_secrets: {
    column: 'hash',
    from: 'client_secrets t',
    live: 't.revoked_at is null and (t.expires_at is null or t.expires_at > ?)',
  },
  // Spent tokens of a live family count: presenting one again must still be detected as reuse.
  refresh_tokens: {
    column: 'token_hash',
    from: 'refresh_tokens t join token_families f on f.id = t.family_id',
    live: 't.idle_expires_at > ? and f.expires_at > ? and f.revoked_at is null',
  },
  device_codes: {
    column: 'device_code_hash',
    from: 'device_codes t',
    live: 't.expires_at > ? and t.consumed_at is null',
  },
  recovery_codes: { column: 'hash', from: 'recovery_codes t', live: 't.used_at is null' },
} as const;

export type HashedSecretTable = keyof typeof TABLES;
export const HASHED_SECRET_TABLES = Object.keys(TABLES) as HashedSecretTable[];

/**
 * Replaces a stored hash under an older version by the hash under the current one, if it is still
 * the stored value (compare-and-set: of concurrent uses of one secret, one re-keys, the others find it
 * done). Returns whether this call changed it. Not for device codes: their hash has no index (a code
 * names its row), so they are re-keyed by id (`rekeyDeviceCode`).
 */
export async function rekeyHash(
  db: Db,
  table: Exclude<HashedSecretTable, 'device_codes'>,
  staleHash: string,
  hash: string,
): Promise<boolean> {
  const { column } = TABLES[table];
  return (await rawExec(db, `update ${table} set ${column} = ? where ${column} = ?`, [hash, staleHash])) > 0;
}

function versionWhere(table: HashedSecretTable, version: number): { sql: string; params: unknown[] } {
  const { column, live } = TABLES[table];
  const { pattern, negate } = hashVersionPattern(version);
  const params = (live.match(/\?/g) ?? []).map(() => 'now');
  return { sql: `${live} and t.${column} ${negate ? 'not like' : 'like'} ?`, params: [...params, pattern] };
}

/** How many live rows of each table still store a hash under `version`. */
export async function countLiveUnderVersion(
  db: Db,
  version: number,
  now: number,
): Promise<Record<HashedSecretTable, number>> {
  const counts = {} as Record<HashedSecretTable, number>;
  for (const table of HASHED_SECRET_TABLES) {
    const where = versionWhere(table, version);
    const rows = await rawRows<{ n: number | string }>(
      db,
      `select count(*) as n from ${TABLES[table].from} where ${where.sql}`,
      where.params.map((p) => (p === 'now' ? now : p)),
    );
    counts[table] = Number(rows[0]?.n ?? 0);
  }
  return counts;
}

/** The ids (for refresh tokens: the families) of live rows still under `version`. */
export async function liveIdsUnderVersion(
  db: Db,
  table: HashedSecretTable,
  version: number,
  now: number,
): Promise<string[]> {
  const where = versionWhere(table, version);
  const id =
    table === 'refresh_tokens' ? 'distinct t.family_id' : table === 'recovery_codes' ? 't.hash' : 't.id';
  const rows = await rawRows<{ id: string }>(
    db,
    `select ${id} as id from ${TABLES[table].from} where ${where.sql}`,
    where.params.map((p) => (p === 'now' ? now : p)),
  );
  return rows.map((r) => r.id);
}
