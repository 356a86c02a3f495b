/**
 * Browser sessions of the device verification pages. The id travels in a signed cookie; the row holds
 * the CSRF token, who signed in and when, and when the second factor was passed.
 */
import type { Kysely } from 'kysely';
import { rawExec } from '../storage/raw.js';
import type { Database, SessionRow } from '../storage/schema.js';

type Db = Kysely<Database>;

export async function createSession(db: Db, row: SessionRow): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

/** The session, if it exists and has not expired at `now`. */
export async function findSession(db: Db, id: string, now: number): Promise<SessionRow | undefined> {
  const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || Number(row.expires_at) <= now) return undefined;
  return row;
}

/**
 * Signs a person in by replacing session `oldId` with `next` (a fresh id, against session fixation).
 * The device codes the old session claimed move with it, in the same statement set, so the person
 * keeps the right to decide them. Returns false when the old session is gone (used twice, expired):
 * nothing then changes. Run it in a transaction.
 */
export async function rotateSession(db: Db, oldId: string, next: SessionRow): Promise<boolean> {
  const deleted = await rawExec(db, 'delete from sessions where id = ?', [oldId]);
  if (deleted === 0) return false;
  await db.insertInto('sessions').values(next).execute();
  await rawExec(
    db,
    `update device_codes set claimed_by_session = ? where claimed_by_session = ? and status = 'pending'`,
    [next.id, oldId],
  );
  return true;
}

/**
 * Records that the session's user passed a second factor at `now`, and which: `otp`, `recovery_code`,
 * or `hwk`/`swk` (a WebAuthn credential bound to one authenticator, or a synced passkey).
 */
export async function markSessionMfa(
  db: Db,
  id: string,
  userId: string,
  now: number,
  method = 'otp',
): Promise<boolean> {
  const changed = await rawExec(
    db,
    'update sessions set mfa_at = ?, mfa_method = ? where id = ? and user_id = ?',
    [now, method, id, userId],
  );
  return changed > 0;
}

/**
 * Lets go of the pending codes this session claimed other than `keepId`, so a session decides one
 * request at a time: the one it entered last.
 */
export async function releaseOtherClaims(db: Db, sessionId: string, keepId: string): Promise<void> {
  await rawExec(
    db,
    `update device_codes set claimed_by_session = null
      where claimed_by_session = ? and id <> ? and status = 'pending'`,
    [sessionId, keepId],
  );
}

/** The pending, unexpired code this session holds, if any. */
export async function findClaimedCode(db: Db, sessionId: string, now: number) {
  return db
    .selectFrom('device_codes')
    .selectAll()
    .where('claimed_by_session', '=', sessionId)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
}

/** Deletes expired sessions. Returns how many. */
export async function purgeSessions(db: Db, now: number): Promise<number> {
  return rawExec(db, 'delete from sessions where expires_at <= ?', [now]);
}
