/**
 * People's sign-in state: consecutive failures, lockout, the second factor. Every transition is one
 * conditional statement, so concurrent attempts — on one instance or many — cannot lose a failure or
 * accept one TOTP step twice. The state lives in the database and so survives restarts.
 */
import type { Kysely } from 'kysely';
import { rawExec, rawRows } from '../storage/raw.js';
import type { Database, UserRow } from '../storage/schema.js';

type Db = Kysely<Database>;

export async function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Whether the account may act at all: neither locked nor disabled. */
export function isUsable(user: Pick<UserRow, 'locked_at' | 'disabled_at'>): boolean {
  return user.locked_at === null && user.disabled_at === null;
}

export interface FailureCount {
  /** Consecutive failures including this one. */
  failures: number;
  /** True when this failure locked the account. */
  lockedNow: boolean;
}

async function countFailure(
  db: Db,
  column: 'failed_logins' | 'failed_mfa',
  userId: string,
  max: number,
  now: number,
): Promise<FailureCount> {
  // Every SET expression sees the row as it was: the increment and the lock decision are one step.
  const rows = await rawRows<{ failures: number | string; locked_at: number | string | null }>(
    db,
    `update users set ${column} = ${column} + 1,
        locked_at = case when locked_at is null and ${column} + 1 >= ? then ? else locked_at end
      where id = ?
      returning ${column} as failures, locked_at`,
    [max, now, userId],
  );
  const row = rows[0];
  if (!row) return { failures: 0, lockedNow: false };
  return {
    failures: Number(row.failures),
    lockedNow: row.locked_at !== null && Number(row.locked_at) === now,
  };
}

/** Counts a failed password; at `max` consecutive failures the account is locked. */
export function recordFailedSignIn(db: Db, userId: string, max: number, now: number): Promise<FailureCount> {
  return countFailure(db, 'failed_logins', userId, max, now);
}

/** Counts a failed second factor; at `max` consecutive failures the account is locked (MF-02). */
export function recordFailedMfa(db: Db, userId: string, max: number, now: number): Promise<FailureCount> {
  return countFailure(db, 'failed_mfa', userId, max, now);
}

/**
 * Resets the failed-password counter after a correct password, only if the account is still usable.
 * Returns false when it is locked or disabled (perhaps by a concurrent failure): the sign-in must fail.
 */
export async function recordSignIn(db: Db, userId: string): Promise<boolean> {
  const changed = await rawExec(
    db,
    'update users set failed_logins = 0 where id = ? and locked_at is null and disabled_at is null',
    [userId],
  );
  return changed > 0;
}

/**
 * Accepts TOTP time step `step` for the user: each step is accepted once, and never one older than the
 * last accepted (MF-01). Under concurrent calls with the same step exactly one caller gets true. Resets
 * the failed second-factor counter. False also when the account is locked or disabled.
 */
export async function acceptTotpStep(db: Db, userId: string, step: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    `update users set totp_last_step = ?, failed_mfa = 0
      where id = ? and (totp_last_step is null or totp_last_step < ?)
        and totp_secret is not null and locked_at is null and disabled_at is null`,
    [step, userId, step],
  );
  return changed > 0;
}

/** Resets the failed second-factor counter (after a recovery code), if the account is usable. */
export async function recordMfaPassed(db: Db, userId: string): Promise<boolean> {
  const changed = await rawExec(
    db,
    'update users set failed_mfa = 0 where id = ? and locked_at is null and disabled_at is null',
    [userId],
  );
  return changed > 0;
}

/**
 * Stores a freshly enrolled TOTP secret, with `step` (the one just used to confirm it) as spent. Only
 * for a user without one: under concurrent enrolments exactly one wins; the others get false.
 */
export async function enrolTotp(db: Db, userId: string, secret: string, step: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    `update users set totp_secret = ?, totp_last_step = ?, failed_mfa = 0
      where id = ? and totp_secret is null and locked_at is null and disabled_at is null`,
    [secret, step, userId],
  );
  return changed > 0;
}
