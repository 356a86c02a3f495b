/**
 * The `users` table: the one module that reads or writes it (the API-key lookups join it read-only).
 * People's records, and their sign-in state: consecutive failures, temporary and hard lockout, the
 * second factor. Every transition is one conditional statement, so concurrent attempts — on one
 * instance or many — cannot lose a failure or accept one TOTP step twice. The state lives in the
 * database and so survives restarts. Each operation takes the database or the transaction it runs in.
 */
import type { Insertable, Kysely } from 'kysely';
import { sql } from 'kysely';
import { rawExec, rawRows } from '../storage/raw.js';
import type { Database, UserRow, UsersTable } from '../storage/schema.js';

type Db = Kysely<Database>;

/** The person whose username is exactly `username` (case as stored), with every column. */
export async function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
}

/** The person with id `id` (`usr_…`), with every column. */
export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The stored username that equals `username` ignoring case, if any (the unique index is on lower(username)). */
export async function findUsernameIgnoringCase(db: Db, username: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('users')
    .select('username')
    .where(sql<boolean>`lower(username) = ${username.toLowerCase()}`)
    .executeTakeFirst();
  return row?.username;
}

/** Whether some person has `idOrUsername` as their id or their username. */
export async function userExists(db: Db, idOrUsername: string): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where((eb) => eb.or([eb('id', '=', idOrUsername), eb('username', '=', idOrUsername)]))
    .executeTakeFirst();
  return row !== undefined;
}

/** The id of the person named exactly `username`, whatever their state. */
export async function findUserIdByUsername(db: Db, username: string): Promise<string | undefined> {
  const row = await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
  return row?.id;
}

/** The username of the person with id `id`, whatever their state. */
export async function findUsernameById(db: Db, id: string): Promise<string | undefined> {
  const row = await db.selectFrom('users').select('username').where('id', '=', id).executeTakeFirst();
  return row?.username;
}

/**
 * The username of the person with id `id` while they may still hold tokens (not disabled, not under the
 * hard lock); undefined for anyone else, or no one.
 */
export async function findActiveUsername(db: Db, id: string): Promise<string | undefined> {
  const rows = await rawRows<{ username: string }>(
    db,
    'select username from users where id = ? and disabled_at is null and locked_at is null',
    [id],
  );
  return rows[0]?.username;
}

/** The usernames of the people among `ids` who exist, by id (one query). */
export async function findUsernames(db: Db, ids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (ids.length === 0) return out;
  const rows = await db.selectFrom('users').select(['id', 'username']).where('id', 'in', ids).execute();
  for (const r of rows) out.set(r.id, r.username);
  return out;
}

/** What owning an API key needs of a person named exactly `username`: id, scope ceiling, disabled. */
export async function findKeyOwnerByUsername(
  db: Db,
  username: string,
): Promise<Pick<UserRow, 'id' | 'username' | 'scopes' | 'disabled_at'> | undefined> {
  return db
    .selectFrom('users')
    .select(['id', 'username', 'scopes', 'disabled_at'])
    .where('username', '=', username)
    .executeTakeFirst();
}

/** A person as administrators see them: every column but the password hash and the TOTP secret. */
export interface UserSummaryRow {
  id: string;
  username: string;
  is_admin: number;
  created_at: number;
  disabled_at: number | null;
  locked_at: number | null;
  locked_until?: number | null | undefined;
  failed_logins: number;
  failed_mfa: number;
  scopes?: string | null | undefined;
  /** 1 while the password is one-time: it must be replaced at the next sign-in. */
  must_change_password: number;
  /** 1 when a TOTP secret is enrolled. */
  has_totp: number;
  /** 1 when at least one passkey is registered and usable (not disabled as a likely clone). */
  has_passkey: number;
}

/** Selects what a summary needs and nothing more: the hash and the TOTP secret never leave the database. */
function selectSummaries(db: Db) {
  return db
    .selectFrom('users')
    .select([
      'id',
      'username',
      'is_admin',
      'created_at',
      'disabled_at',
      'locked_at',
      'locked_until',
      'failed_logins',
      'failed_mfa',
      'scopes',
      'must_change_password',
    ])
    .select(sql<number>`case when totp_secret is null then 0 else 1 end`.as('has_totp'))
    .select(
      sql<number>`case when exists (select 1 from webauthn_credentials w where w.user_id = users.id and w.disabled_at is null) then 1 else 0 end`.as(
        'has_passkey',
      ),
    );
}

/** Every person, oldest first (ties by id), as administrators see them. */
export async function listUserSummaries(db: Db): Promise<UserSummaryRow[]> {
  return selectSummaries(db).orderBy('created_at').orderBy('id').execute();
}

/** The person whose id or username is `nameOrId`, as administrators see them. */
export async function findUserSummary(db: Db, nameOrId: string): Promise<UserSummaryRow | undefined> {
  return selectSummaries(db)
    .where((eb) => eb.or([eb('id', '=', nameOrId), eb('username', '=', nameOrId)]))
    .executeTakeFirst();
}

/**
 * Inserts a new person. The unique index on lower(username) decides between concurrent creations of
 * one name: all but one fail with a unique violation.
 */
export async function insertUser(db: Db, row: Insertable<UsersTable>): Promise<void> {
  await db.insertInto('users').values(row).execute();
}

/**
 * Disables the person with id `id` at `now`. False when they were already disabled: under concurrent
 * calls exactly one caller gets true.
 */
export async function markUserDisabled(db: Db, id: string, now: number): Promise<boolean> {
  const changed = await db
    .updateTable('users')
    .set({ disabled_at: now })
    .where('id', '=', id)
    .where('disabled_at', 'is', null)
    .executeTakeFirst();
  return changed.numUpdatedRows !== 0n;
}

/** Forgets the person's TOTP secret and last accepted step, and clears the failed-MFA count and any lock. */
export async function clearSecondFactor(db: Db, id: string): Promise<void> {
  await db
    .updateTable('users')
    .set({ totp_secret: null, totp_last_step: null, failed_mfa: 0, locked_at: null, locked_until: null })
    .where('id', '=', id)
    .execute();
}

/** Lifts any lock (temporary or hard) and clears both failure counters. */
export async function clearLockout(db: Db, id: string): Promise<void> {
  await db
    .updateTable('users')
    .set({ failed_logins: 0, failed_mfa: 0, locked_at: null, locked_until: null })
    .where('id', '=', id)
    .execute();
}

/**
 * Replaces a one-time password with `passwordHash`, only while one is waiting to be replaced: under
 * concurrent calls exactly one changes it.
 */
export async function replaceOneTimePassword(db: Db, id: string, passwordHash: string): Promise<void> {
  await db
    .updateTable('users')
    .set({ password_hash: passwordHash, must_change_password: 0 })
    .where('id', '=', id)
    .where('must_change_password', '=', 1)
    .execute();
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
function lockDuration(policy: LockoutPolicy, failures: number): number {
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

/** What the audit record of a lock says about it. */
export function lockDetail(failure: FailureCount): Record<string, unknown> {
  return {
    failures: failure.failures,
    ...(failure.lock?.kind === 'temporary'
      ? { until: new Date(failure.lock.until).toISOString() }
      : { hard: true }),
  };
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

/** Enables the person with id `id`. False when they were not disabled. */
export async function markUserEnabled(db: Db, id: string): Promise<boolean> {
  const changed = await db
    .updateTable('users')
    .set({ disabled_at: null })
    .where('id', '=', id)
    .where('disabled_at', 'is not', null)
    .executeTakeFirst();
  return changed.numUpdatedRows !== 0n;
}

/** Sets a password hash, one-time (to be replaced at the next sign-in) or not. */
export async function setPasswordHash(
  db: Db,
  id: string,
  passwordHash: string,
  oneTime: boolean,
): Promise<void> {
  await db
    .updateTable('users')
    .set({ password_hash: passwordHash, must_change_password: oneTime ? 1 : 0 })
    .where('id', '=', id)
    .execute();
}

/** Sets the scope ceiling of the person's API keys (null: none set). */
export async function setUserScopes(db: Db, id: string, scopes: readonly string[] | null): Promise<void> {
  await db
    .updateTable('users')
    .set({ scopes: scopes === null ? null : JSON.stringify(scopes) })
    .where('id', '=', id)
    .execute();
}
