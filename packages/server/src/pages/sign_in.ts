/**
 * GET/POST /device/login: username and password (scrypt). Consecutive failures lock the account at
 * `maxFailedSignIns`; a locked or disabled account cannot sign in (DF-13); failures are also bounded per
 * client IP. Success replaces the session with a fresh one (no fixation) that keeps the claimed code.
 */
import type { FastifyInstance } from 'fastify';
import { hashPassword, verifyPassword } from '../crypto/passwords.js';
import { requestContext } from '../http/request_context.js';
import { rotateSession } from '../users/sessions.js';
import { findUserByUsername, isUsable, recordFailedSignIn, recordSignIn } from '../users/sign_in_state.js';
import { reserveGuess } from './code_entry.js';
import { accountUnusable, type DevicePagesDeps, nextStep, redirect, sendPage } from './deps.js';
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

// Verified against when the username is unknown, so both cases cost one scrypt.
let dummyHash: Promise<string> | undefined;

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

    const refund = await reserveGuess(deps, 'sign_in', context.ip ?? 'unknown', {
      perIp: deps.config.userCodeAttemptsPerIpPerMinute,
    });
    const user = await findUserByUsername(deps.db, username);
    const audit = (event: 'user.sign_in_failed' | 'user.locked', reason: string) =>
      deps.audit.record({
        event,
        outcome: 'failure',
        actor: user ? { type: 'user', id: user.id } : { type: 'anonymous' },
        ip: context.ip,
        userAgent: context.userAgent,
        detail: { reason, ...(user ? {} : { username: username.slice(0, 64) }) },
      });

    if (user && !isUsable(user)) {
      await audit('user.sign_in_failed', user.disabled_at !== null ? 'disabled' : 'locked');
      throw accountUnusable(user);
    }
    dummyHash ??= hashPassword('clavis-dummy-password');
    const ok = await verifyPassword(password, user?.password_hash ?? (await dummyHash));
    const now = deps.config.clock();
    if (!user?.password_hash || !ok) {
      await audit('user.sign_in_failed', user ? 'wrong_password' : 'unknown_user');
      if (user) {
        const { lockedNow } = await recordFailedSignIn(deps.db, user.id, deps.config.maxFailedSignIns, now);
        if (lockedNow) {
          await audit('user.locked', 'failed_sign_ins');
          throw accountUnusable({ disabled_at: null });
        }
      }
      return wrong(401, 'Wrong username or password.');
    }
    await refund();

    const next = newSessionRow(deps, { id: user.id, at: now });
    const signedIn = await deps.audit.transact(
      async (tx) => (await recordSignIn(tx, user.id)) && (await rotateSession(tx, session.id, next)),
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
      const fresh = await findUserByUsername(deps.db, username);
      if (fresh && !isUsable(fresh)) throw accountUnusable(fresh);
      throw forbiddenForm();
    }
    setSessionCookie(deps, reply, next.id);
    return redirect(reply, await nextStep(deps, next));
  });
}
