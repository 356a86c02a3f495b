/**
 * Revoked JWT access tokens, remembered by `jti` until they would have expired.
 *
 * "Not revoked" answers are cached per root handle in an exact cache (`ExactCache`): a token checked
 * again (introspected by several resource servers) costs no query while nothing changed. Revocations
 * are committed through the audit log's changing units, which drop the cache in this process
 * (`forgetRevocationAnswers`) and move the commit version of every other one.
 */
import type { Kysely } from 'kysely';
import { commitVersion, ExactCache } from './exact_cache.js';
import { rawRows } from './raw.js';
import type { Database } from './schema.js';

const MAX_ENTRIES = 50_000;
const answers = new WeakMap<Kysely<Database>, ExactCache<string, true>>();

function answersOf(db: Kysely<Database>): ExactCache<string, true> {
  let cache = answers.get(db);
  if (!cache) {
    cache = new ExactCache({ version: commitVersion(db), maxEntries: MAX_ENTRIES });
    answers.set(db, cache);
  }
  return cache;
}

/** Drops the cached answers of `db` (this process committed a change). */
export function forgetRevocationAnswers(db: Kysely<Database>): void {
  answers.get(db)?.invalidate();
}

/** Records the revocation; idempotent. Returns true when this call revoked it. */
export async function revokeJti(
  db: Kysely<Database>,
  entry: { jti: string; clientId: string; revokedAt: number; expiresAt: number },
): Promise<boolean> {
  const result = await db
    .insertInto('revoked_tokens')
    .values({
      jti: entry.jti,
      client_id: entry.clientId,
      revoked_at: entry.revokedAt,
      expires_at: entry.expiresAt,
    })
    .onConflict((oc) => oc.column('jti').doNothing())
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/**
 * Whether an access token is revoked: its `jti` is on the list, or it was minted into a token family
 * that has been revoked since (in depth: revoking a family lists its tokens, this holds even if one
 * slipped past that list).
 */
export async function isAccessTokenRevoked(db: Kysely<Database>, jti: string): Promise<boolean> {
  const cached = answersOf(db).lookup(jti);
  if ('hit' in cached) return false;
  const rows = await rawRows(
    db,
    `select 1 as revoked from revoked_tokens where jti = ?
      union all
      select 1 as revoked from family_access_tokens a join token_families f on f.id = a.family_id
        where a.jti = ? and f.revoked_at is not null`,
    [jti, jti],
  );
  if (rows.length > 0) return true;
  cached.remember(true);
  return false;
}

export async function purgeRevocations(db: Kysely<Database>, now: number): Promise<number> {
  const result = await db.deleteFrom('revoked_tokens').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
