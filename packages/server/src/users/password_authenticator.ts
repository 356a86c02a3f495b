/**
 * Signing in with a username and password (scrypt): the password check, the lockout and their audit
 * records. From `policy.threshold` consecutive failures on, the account is locked for a while, longer
 * with each failure, and for good at `policy.hardLimit` (DF-13); a locked or disabled account cannot
 * sign in, and neither state shows before the password is verified. Unknown usernames are audited as
 * a keyed hash, never as typed. HTTP stays with the caller: it parses the form, charges the attempt to
 * its budgets, opens the session and renders the answer.
 */
import type { Kysely, Transaction } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import type { AuditEntry, RequestContext } from '../audit/events.js';
import type { FailureLog } from '../audit/failure_log.js';
import { hashPassword, verifyPassword } from '../crypto/passwords.js';
import type { Database, UserRow } from '../storage/schema.js';
import {
  findUserByUsername,
  isUsable,
  type LockoutPolicy,
  lockDetail,
  lockOf,
  recordFailedSignIn,
  recordSignIn,
} from './user_store.js';

export interface PasswordAuthenticatorDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  /** Failed attempts are aggregated (and unknown usernames hashed) before they reach the audit log. */
  failures: FailureLog;
  /** When consecutive failures lock the account. */
  policy: LockoutPolicy;
}

export interface PasswordAttempt {
  username: string;
  password: string;
  /** Who is calling, for the audit records. */
  context: RequestContext;
  now: number;
  /**
   * Charges the attempt to its budgets before the password is tried (every attempt costs one scrypt);
   * rejects when one is spent. Resolves to a refund, used when the sign-in succeeds.
   */
  reserve: () => Promise<() => Promise<void>>;
  /** Opens the signed-in session, in the transaction that records the sign-in; false when it cannot. */
  openSession: (tx: Transaction<Database>, user: UserRow) => Promise<boolean>;
}

/**
 * The outcome of a sign-in. `wrong_credentials` is one answer for an unknown name, a wrong password and
 * a locked account; `disabled` only after the password verified; `session_gone` when the session to
 * replace was gone at commit.
 */
export type PasswordSignIn =
  | { ok: true; user: UserRow }
  | { ok: false; reason: 'wrong_credentials' | 'session_gone' }
  | { ok: false; reason: 'disabled'; user: UserRow };

export interface PasswordAuthenticator {
  authenticate(attempt: PasswordAttempt): Promise<PasswordSignIn>;
}

// Verified against when the username is unknown or the account locked, so every case costs one scrypt.
let dummyHash: Promise<string> | undefined;

export function passwordAuthenticator(deps: PasswordAuthenticatorDeps): PasswordAuthenticator {
  return { authenticate: (attempt) => authenticate(deps, attempt) };
}

async function authenticate(
  deps: PasswordAuthenticatorDeps,
  attempt: PasswordAttempt,
): Promise<PasswordSignIn> {
  const { username, password, context, now } = attempt;
  // Every attempt costs one scrypt, so attempts are bounded per address and in total before it.
  // An unknown name is recorded as a keyed hash, never as typed: people type passwords there.
  const nameHash = () => deps.failures.usernameHash(username);
  const refund = await attempt.reserve().catch(async (err: unknown) => {
    await deps.failures.note(
      {
        entry: {
          event: 'user.sign_in_failed',
          outcome: 'failure',
          actor: { type: 'anonymous' },
          ip: context.ip,
          userAgent: context.userAgent,
          requestId: context.requestId,
          detail: { reason: 'rate_limited' },
        },
      },
      { throttled: true },
    );
    throw err;
  });
  const user = await findUserByUsername(deps.db, username);
  const lock = user ? lockOf(user, now) : undefined;
  const entry = (
    event: 'user.sign_in_failed' | 'user.locked',
    detail: Record<string, unknown>,
  ): AuditEntry => ({
    event,
    outcome: 'failure',
    actor: user ? { type: 'user', id: user.id } : { type: 'anonymous' },
    ip: context.ip,
    userAgent: context.userAgent,
    requestId: context.requestId,
    detail: { ...detail, ...(user ? {} : { username_hmac: nameHash() }) },
  });
  /** A failed attempt: aggregated with the same failures on the same account from the same address. */
  const audit = (detail: Record<string, unknown>) =>
    deps.failures.note({ entry: entry('user.sign_in_failed', detail), subject: user?.id ?? nameHash() });

  // A locked account's password is not tried at all (the lock is what stops guessing; a try would
  // tell whether a guess was right), yet the attempt costs the same scrypt as any other.
  dummyHash ??= hashPassword('clavis-dummy-password');
  const hash = user && !lock ? user.password_hash : null;
  const ok = (await verifyPassword(password, hash ?? (await dummyHash))) && hash !== null;
  if (!user || !ok) {
    if (!user) await audit({ reason: 'unknown_user' });
    else if (lock) await audit({ reason: lock.kind === 'hard' ? 'locked' : 'locked_for_now' });
    else {
      await audit({ reason: 'wrong_password' });
      const failure = await recordFailedSignIn(deps.db, user.id, deps.policy, now);
      if (failure.lockedNow) {
        await deps.audit.record(entry('user.locked', { reason: 'failed_sign_ins', ...lockDetail(failure) }));
      }
    }
    // The same answer for an unknown name, a wrong password and a locked account: nothing about the
    // account shows before its password is verified.
    return { ok: false, reason: 'wrong_credentials' };
  }
  if (user.disabled_at !== null) {
    await deps.audit.record(entry('user.sign_in_failed', { reason: 'disabled' }));
    return { ok: false, reason: 'disabled', user };
  }
  await refund();

  const signedIn = await deps.audit.transact(
    async (tx) => (await recordSignIn(tx, user.id, now)) && (await attempt.openSession(tx, user)),
    (done) => ({
      event: done ? 'user.sign_in' : 'user.sign_in_failed',
      outcome: done ? 'success' : 'failure',
      actor: { type: 'user', id: user.id },
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      detail: done ? { method: 'password' } : { reason: 'locked_or_session_gone' },
    }),
  );
  if (!signedIn) {
    // Locked or disabled meanwhile (a concurrent failure): as if the password had been wrong.
    const fresh = await findUserByUsername(deps.db, username);
    if (fresh && !isUsable(fresh, now)) return { ok: false, reason: 'wrong_credentials' };
    return { ok: false, reason: 'session_gone' };
  }
  return { ok: true, user };
}
