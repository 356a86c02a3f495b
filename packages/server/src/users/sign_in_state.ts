/**
 * People's sign-in state: consecutive failures, temporary and hard lockout, the second factor. Every transition is one
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

/** A lock the account is under at `now`, if any: a temporary one from failures, or the hard lock. */
export type AccountLock = { kind: 'temporary'; until: number } | { kind: 'hard' };

export function lockOf(
  user: Pick<UserRow, 'locked_at' | 'locked_until'>,
  now: number,
): AccountLock | undefined {
  if (user.locked_at !== null) return { kind: 'hard' };
  const until = user.locked_until === null || user.locked_until === undefined ? 0 : Number(user.locked_until);
  return until > now ? { kind: 'temporary', until } : undefined;
}

/** Whether the account may act at all at `now`: neither locked (for now, or for good) nor disabled. */
export function isUsable(
  user: Pick<UserRow, 'locked_at' | 'locked_until' | 'disabled_at'>,
  now: number,
): boolean {
  return user.disabled_at === null && lockOf(user, now) === undefined;
}

/**
 * When consecutive failures lock an account (NIST SP 800-63B §5.2.2: at most 100 before a lock that
 * needs more than waiting): from `threshold` failures on, each one locks the account for `baseMs`,
 * doubled per further failure up to `maxMs`; at `hardLimit` failures the lock is for good, until an
 * administrator lifts it. A failure is counted only when it was really tried: attempts on a locked
 * account are refused without looking at the password, so they neither count nor tell anything.
 */
export interface LockoutPolicy {
  threshold: number;
  hardLimit: number;
  baseMs: number;
  maxMs: number;
}

export const LOCKOUT_BASE_MS = 60_000;
export const LOCKOUT_MAX_MS = 3_600_000;

/** How long the `failures`-th consecutive failure locks the account (0: not at all). */
export function lockDuration(policy: LockoutPolicy, failures: number): number {
  if (failures < policy.threshold) return 0;
  const doublings = failures - policy.threshold;
  return doublings >= 31 ? policy.maxMs : Math.min(policy.maxMs, policy.baseMs * 2 ** doublings);
}

/** The lock duration as SQL over the counted failures `n` (the schedule is short: it reaches its cap). */
function lockDurationSql(policy: LockoutPolicy, n: string): string {
  const branches: string[] = [];
  for (let failures = policy.threshold; ; failures++) {
    const ms = lockDuration(policy, failures);
    if (ms >= policy.maxMs) break;
    branches.push(`when ${n} = ${failures} then ${ms}`);
  }
  return `case when ${n} < ${policy.threshold} then 0 ${branches.join(' ')} else ${policy.maxMs} end`;
}

export interface FailureCount {
  /** Consecutive failures including this one. */
  failures: number;
  /** True when this failure locked the account (for a while, or for good). */
  lockedNow: boolean;
  /** The lock this failure left the account under. */
  lock: AccountLock | undefined;
}

async function countFailure(
  db: Db,
  column: 'failed_logins' | 'failed_mfa',
  userId: string,
  policy: LockoutPolicy,
  now: number,
): Promise<FailureCount> {
  // Every SET expression sees the row as it was: the increment and the lock decision are one step, so
  // concurrent failures each count and each push the lock out to (at least) what their count earns.
  const n = `${column} + 1`;
  // The bound time is cast: PostgreSQL would otherwise type it after the integer durations.
  const until = `cast(? as bigint) + ${lockDurationSql(policy, n)}`;
  const rows = await rawRows<{
    failures: number | string;
    locked_at: number | string | null;
    locked_until: number | string | null;
  }>(
    db,
    `update users set ${column} = ${n},
        locked_until = case when ${n} >= ? and (locked_until is null or locked_until < ${until})
          then ${until} else locked_until end,
        locked_at = case when locked_at is null and ${n} >= ? then ? else locked_at end
      where id = ?
      returning ${column} as failures, locked_at, locked_until`,
    [policy.threshold, now, now, policy.hardLimit, now, userId],
  );
  const row = rows[0];
  if (!row) return { failures: 0, lockedNow: false, lock: undefined };
  const failures = Number(row.failures);
  const lock = lockOf(
    {
      locked_at: row.locked_at === null ? null : Number(row.locked_at),
      locked_until: row.locked_until === null ? null : Number(row.locked_until),
    },
    now,
  );
  return { failures, lockedNow: lockDuration(policy, failures) > 0 || failures >= policy.hardLimit, lock };
}

/** Counts a failed password; from `policy.threshold` consecutive failures on, the account is locked. */
export function recordFailedSignIn(
  db: Db,
  userId: string,
  policy: LockoutPolicy,
  now: number,
): Promise<FailureCount> {
  return countFailure(db, 'failed_logins', userId, policy, now);
}

/** Counts a failed second factor, locking as `recordFailedSignIn` does (MF-02). */
export function recordFailedMfa(
  db: Db,
  userId: string,
  policy: LockoutPolicy,
  now: number,
): Promise<FailureCount> {
  return countFailure(db, 'failed_mfa', userId, policy, now);
}

/** The SQL condition "usable at the bound time": not disabled, not locked for good or for now. */
const USABLE = 'locked_at is null and disabled_at is null and (locked_until is null or locked_until <= ?)';

/**
 * Resets the failed-password counter after a correct password, only if the account is still usable.
 * Returns false when it is locked or disabled (perhaps by a concurrent failure): the sign-in must fail.
 */
export async function recordSignIn(db: Db, userId: string, now: number): Promise<boolean> {
  const changed = await rawExec(db, `update users set failed_logins = 0 where id = ? and ${USABLE}`, [
    userId,
    now,
  ]);
  return changed > 0;
}

/**
 * Accepts TOTP time step `step` for the user: each step is accepted once, and never one older than the
 * last accepted (MF-01). Under concurrent calls with the same step exactly one caller gets true. Resets
 * the failed second-factor counter. False also when the account is locked or disabled.
 */
export async function acceptTotpStep(db: Db, userId: string, step: number, now: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    `update users set totp_last_step = ?, failed_mfa = 0
      where id = ? and (totp_last_step is null or totp_last_step < ?)
        and totp_secret is not null and ${USABLE}`,
    [step, userId, step, now],
  );
  return changed > 0;
}

/** Resets the failed second-factor counter (after a recovery code), if the account is usable. */
export async function recordMfaPassed(db: Db, userId: string, now: number): Promise<boolean> {
  const changed = await rawExec(db, `update users set failed_mfa = 0 where id = ? and ${USABLE}`, [
    userId,
    now,
  ]);
  return changed > 0;
}

/**
 * Stores a freshly enrolled TOTP secret, with `step` (the one just used to confirm it) as spent. Only
 * for a user without one: under concurrent enrolments exactly one wins; the others get false.
 */
export async function enrolTotp(
  db: Db,
  userId: string,
  secret: string,
  step: number,
  now: number,
): Promise<boolean> {
  const changed = await rawExec(
    db,
    `update users set totp_secret = ?, totp_last_step = ?, failed_mfa = 0
      where id = ? and totp_secret is null and ${USABLE}`,
    [secret, step, userId, now],
  );
  return changed > 0;
}
