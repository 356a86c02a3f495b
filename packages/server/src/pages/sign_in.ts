/**
 * GET/POST /device/login: username and password (scrypt). From `maxFailedSignIns` consecutive failures
 * on, the account is locked for a while, longer with each failure, and for good at `signInHardLockAfter`
 * (DF-13); a locked or disabled account cannot sign in, and neither state shows before the password is
 * verified. Attempts are bounded per client address and in total. Success replaces the session with a
 * fresh one (no fixation) that keeps the claimed code.
 */
import type { FastifyInstance } from 'fastify';
import type { AuditEntry } from '../audit/events.js';
import { hashPassword, verifyPassword } from '../crypto/passwords.js';
import { requestContext } from '../http/request_context.js';
import { rotateSession } from '../users/sessions.js';
import {
  type FailureCount,
  findUserByUsername,
  isUsable,
  lockOf,
  recordFailedSignIn,
  recordSignIn,
} from '../users/user_store.js';
import { perAddress, reserveGuess } from './code_entry.js';
import {
  accountUnusable,
  type DevicePagesDeps,
  lockoutPolicy,
  nextStep,
  redirect,
  sendPage,
} from './deps.js';
import {
  ensureSession,
  field,
  forbiddenForm,
  formOf,
  newSessionRow,
  requireFormSession,
  setSessionCookie,
} from './page_http.js';
import { signInPage } from './views.js';

// Verified against when the username is unknown or the account locked, so every case costs one scrypt.
let dummyHash: Promise<string> | undefined;

const WRONG_CREDENTIALS = 'Wrong username or password. After several failures, sign-in pauses for a while.';

/** What the audit record of a lock says about it. */
export function lockDetail(failure: FailureCount): Record<string, unknown> {
  return {
    failures: failure.failures,
    ...(failure.lock?.kind === 'temporary'
      ? { until: new Date(failure.lock.until).toISOString() }
      : { hard: true }),
  };
}

export function registerSignIn(scope: FastifyInstance, deps: DevicePagesDeps): void {
  scope.get('/device/login', async (request, reply) => {
    const session = await ensureSession(deps, request, reply);
    return sendPage(reply, 200, signInPage({ csrf: session.csrf_token }));
  });

  scope.post('/device/login', async (request, reply) => {
    const form = formOf(request);
    const session = await requireFormSession(deps, request, form);
    const username = field(form, 'username', 256) ?? '';
    const password = field(form, 'password', 1024) ?? '';
    const context = requestContext(request);
    const wrong = (status: number, error: string) =>
      sendPage(reply, status, signInPage({ csrf: session.csrf_token, username, error }));
    if (!username || !password) return wrong(400, 'Enter your username and password.');

    // Every attempt costs one scrypt, so attempts are bounded per address and in total before it.
    // An unknown name is recorded as a keyed hash, never as typed: people type passwords there.
    const nameHash = () => deps.failures.usernameHash(username);
    const refund = await reserveGuess(deps, [
      perAddress('sign_in', context.ip, deps.config.userCodeAttemptsPerIpPerMinute),
      { key: 'sign_in:global', limit: deps.config.signInAttemptsGlobalPerMinute },
    ]).catch(async (err: unknown) => {
      await deps.failures.note(
        {
          entry: {
            event: 'user.sign_in_failed',
            outcome: 'failure',
            actor: { type: 'anonymous' },
            ip: context.ip,
            userAgent: context.userAgent,
            detail: { reason: 'rate_limited' },
          },
        },
        { throttled: true },
      );
      throw err;
    });
    const user = await findUserByUsername(deps.db, username);
    const now = deps.config.clock();
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
        const failure = await recordFailedSignIn(deps.db, user.id, lockoutPolicy(deps.config), now);
        if (failure.lockedNow) {
          await deps.audit.record(
            entry('user.locked', { reason: 'failed_sign_ins', ...lockDetail(failure) }),
          );
        }
      }
      // The same answer for an unknown name, a wrong password and a locked account: nothing about the
      // account shows before its password is verified.
      return wrong(401, WRONG_CREDENTIALS);
    }
    if (user.disabled_at !== null) {
      await deps.audit.record(entry('user.sign_in_failed', { reason: 'disabled' }));
      throw accountUnusable(user, now);
    }
    await refund();

    const next = newSessionRow(deps, { id: user.id, at: now });
    const signedIn = await deps.audit.transact(
      async (tx) => (await recordSignIn(tx, user.id, now)) && (await rotateSession(tx, session.id, next)),
      (done) => ({
        event: done ? 'user.sign_in' : 'user.sign_in_failed',
        outcome: done ? 'success' : 'failure',
        actor: { type: 'user', id: user.id },
        ip: context.ip,
        userAgent: context.userAgent,
        detail: done ? { method: 'password' } : { reason: 'locked_or_session_gone' },
      }),
    );
    if (!signedIn) {
      // Locked or disabled meanwhile (a concurrent failure): as if the password had been wrong.
      const fresh = await findUserByUsername(deps.db, username);
      if (fresh && !isUsable(fresh, now)) return wrong(401, WRONG_CREDENTIALS);
      throw forbiddenForm();
    }
    setSessionCookie(deps, reply, next.id);
    return redirect(reply, await nextStep(deps, next));
  });
}
