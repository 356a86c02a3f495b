/**
 * Refresh-token families (RFC 9700 §4.14.2): every refresh token belongs to the family started by one
 * device approval; each use rotates it; presenting a rotated one again revokes the whole family and the
 * access tokens it produced. Tokens are stored as keyed hashes only.
 */
import type { Kysely } from 'kysely';
import { isSqlite, rawExec, rawRows } from '../storage/raw.js';
import type { Database, RefreshTokensTable, TokenFamiliesTable } from '../storage/schema.js';

type Db = Kysely<Database>;

interface RefreshTokenWithFamily {
  id: string;
  family_id: string;
  created_at: number;
  idle_expires_at: number;
  rotated_at: number | null;
  client_id: string;
  user_id: string;
  scopes: string;
  family_expires_at: number;
  revoked_at: number | null;
}

/** A family that is not revoked, as the rotation that holds its lock reads it. */
export interface LiveFamily {
  scopes: string;
  user_id: string;
  /** When the person signed in for the approval that started the family (ms), if known. */
  auth_time: number | null;
  /** JSON array of the RFC 8176 methods they passed, if known. */
  amr: string | null;
}

export async function insertFamily(db: Db, family: TokenFamiliesTable): Promise<void> {
  await db.insertInto('token_families').values(family).execute();
}

export async function insertRefreshToken(db: Db, token: RefreshTokensTable): Promise<void> {
  await db.insertInto('refresh_tokens').values(token).execute();
}

/** Remembers that an access token came from a family, so revoking the family revokes it too. */
export async function recordFamilyAccessToken(
  db: Db,
  jti: string,
  familyId: string,
  expiresAt: number,
): Promise<void> {
  await db
    .insertInto('family_access_tokens')
    .values({ jti, family_id: familyId, expires_at: expiresAt })
    .execute();
}

export async function findRefreshToken(db: Db, hash: string): Promise<RefreshTokenWithFamily | undefined> {
  const rows = await rawRows<RefreshTokenWithFamily>(
    db,
    `select r.id, r.family_id, r.created_at, r.idle_expires_at, r.rotated_at,
        f.client_id, f.user_id, f.scopes, f.expires_at as family_expires_at, f.revoked_at
      from refresh_tokens r join token_families f on f.id = r.family_id
      where r.token_hash = ?`,
    [hash],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    ...row,
    created_at: Number(row.created_at),
    idle_expires_at: Number(row.idle_expires_at),
    rotated_at: row.rotated_at === null ? null : Number(row.rotated_at),
    family_expires_at: Number(row.family_expires_at),
    revoked_at: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

/** Marks a refresh token used. Exactly one concurrent caller gets true: only it may mint the successor. */
export async function markRotated(db: Db, id: string, now: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    'update refresh_tokens set rotated_at = ? where id = ? and rotated_at is null',
    [now, id],
  );
  return changed > 0;
}

/**
 * Inside the transaction that rotates or mints into a family: the family, if it is not revoked, locked
 * until the commit (PostgreSQL `FOR UPDATE`; SQLite's write transaction already excludes every other
 * writer). A concurrent `revokeFamily` then either committed first (undefined here) or waits for this
 * commit and revokes the access token minted in it too: a rotation and a revocation never both win.
 */
export async function lockLiveFamily(tx: Db, familyId: string): Promise<LiveFamily | undefined> {
  const rows = await rawRows<{
    scopes: string;
    user_id: string;
    auth_time: number | string | null;
    amr: string | null;
  }>(
    tx,
    isSqlite(tx)
      ? 'select scopes, user_id, auth_time, amr from token_families where id = ? and revoked_at is null'
      : 'select scopes, user_id, auth_time, amr from token_families where id = ? and revoked_at is null for update',
    [familyId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { ...row, auth_time: row.auth_time === null ? null : Number(row.auth_time) };
}

/** Narrows a family's scope for good (the person lost an entitlement); never widens it. */
export async function narrowFamily(tx: Db, familyId: string, scopes: readonly string[]): Promise<void> {
  await rawExec(tx, 'update token_families set scopes = ? where id = ?', [JSON.stringify(scopes), familyId]);
}

/**
 * Revokes a family and every unexpired access token it produced (their `jti`s join the revocation
 * list). Returns whether this call revoked it (false: already revoked or unknown).
 */
export async function revokeFamily(db: Db, familyId: string, reason: string, now: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    'update token_families set revoked_at = ?, revoked_reason = ? where id = ? and revoked_at is null',
    [now, reason, familyId],
  );
  await rawExec(
    db,
    `insert into revoked_tokens (jti, client_id, revoked_at, expires_at)
      select a.jti, f.client_id, ?, a.expires_at
        from family_access_tokens a join token_families f on f.id = a.family_id
        where a.family_id = ? and a.expires_at > ?
      on conflict (jti) do nothing`,
    [now, familyId, now],
  );
  return changed > 0;
}

/** Deletes families (with their refresh tokens and access-token records) past their absolute expiry. */
export async function purgeFamilies(db: Db, now: number): Promise<number> {
  await rawExec(db, 'delete from family_access_tokens where expires_at < ?', [now]);
  await rawExec(
    db,
    'delete from refresh_tokens where family_id in (select id from token_families where expires_at < ?)',
    [now],
  );
  return rawExec(db, 'delete from token_families where expires_at < ?', [now]);
}

/** A person's refresh-token family that can still be refreshed, as administrators see it. */
export interface LiveFamilySummary {
  id: string;
  client_id: string;
  scopes: string[];
  created_at: number;
  /** The last refresh (rotation), or null if never refreshed. */
  last_used_at: number | null;
  /** When it stops: its absolute end or its current token's idle end, whichever is sooner. */
  expires_at: number;
}

/** The person's families that are neither revoked nor expired at `now`, oldest first. */
export async function listLiveFamilies(db: Db, userId: string, now: number): Promise<LiveFamilySummary[]> {
  const rows = await rawRows<{
    id: string;
    client_id: string;
    scopes: string;
    created_at: number | string;
    expires_at: number | string;
    last_used_at: number | string | null;
    idle_expires_at: number | string | null;
  }>(
    db,
    `select f.id, f.client_id, f.scopes, f.created_at, f.expires_at,
        (select max(r.rotated_at) from refresh_tokens r where r.family_id = f.id) as last_used_at,
        (select max(r.idle_expires_at) from refresh_tokens r
          where r.family_id = f.id and r.rotated_at is null) as idle_expires_at
      from token_families f
      where f.user_id = ? and f.revoked_at is null and f.expires_at > ?
      order by f.created_at, f.id`,
    [userId, now],
  );
  const out: LiveFamilySummary[] = [];
  for (const r of rows) {
    if (r.idle_expires_at === null || Number(r.idle_expires_at) <= now) continue;
    out.push({
      id: r.id,
      client_id: r.client_id,
      scopes: JSON.parse(r.scopes) as string[],
      created_at: Number(r.created_at),
      last_used_at: r.last_used_at === null ? null : Number(r.last_used_at),
      expires_at: Math.min(Number(r.expires_at), Number(r.idle_expires_at)),
    });
  }
  return out;
}
