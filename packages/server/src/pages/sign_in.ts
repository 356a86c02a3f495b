/**
 * GET/POST /device/login: username and password, checked by the password authenticator
 * (users/password_authenticator.ts: scrypt, the lockout from `maxFailedSignIns` consecutive failures on
 * and for good at `signInHardLockAfter` (DF-13), their audit). Attempts are bounded per client address
 * and in total. Success replaces the session with a fresh one (no fixation) that keeps the claimed code.
 */
import type { FastifyInstance } from 'fastify';
import { requestContext } from '../http/request_context.js';
import { passwordAuthenticator } from '../users/password_authenticator.js';
import { rotateSession } from '../users/sessions.js';
import { perAddress, reserveGuess } from './code_entry.js';
import {
  accountUnusable,
  type DevicePagesDeps,
  type GuessingPageDeps,
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
  type NewSession,
  newSession,
  requireFormSession,
  setSessionCookie,
} from './page_http.js';
import { requirePasswordsOffered, signInChoices } from './upstream_sign_in.js';
import { signInPage } from './views.js';

const WRONG_CREDENTIALS = 'Wrong username or password. After several failures, sign-in pauses for a while.';

export function registerSignIn(
  scope: FastifyInstance,
  deps: GuessingPageDeps & Pick<DevicePagesDeps, 'upstream'>,
): void {
  const authenticator = passwordAuthenticator({
    db: deps.db,
    audit: deps.audit,
    failures: deps.failures,
    policy: lockoutPolicy(deps.config),
  });

  scope.get('/device/login', async (request, reply) => {
    const session = await ensureSession(deps, request, reply);
    return sendPage(reply, 200, signInPage({ csrf: session.csrf_token, ...(await signInChoices(deps)) }));
  });

  scope.post('/device/login', async (request, reply) => {
    const form = formOf(request);
    const session = await requireFormSession(deps, request, form);
    await requirePasswordsOffered(deps);
    const username = field(form, 'username', 256) ?? '';
    const password = field(form, 'password', 1024) ?? '';
    const context = requestContext(request);
    const wrong = async (status: number, error: string) =>
      sendPage(
        reply,
        status,
        signInPage({ csrf: session.csrf_token, username, error, ...(await signInChoices(deps)) }),
      );
    if (!username || !password) return wrong(400, 'Enter your username and password.');

    const now = deps.config.clock();
    let next: NewSession | undefined;
    const result = await authenticator.authenticate({
      username,
      password,
      context,
      now,
      // Every attempt costs one scrypt, so attempts are bounded per address and in total before it.
      reserve: () =>
        reserveGuess(deps, [
          perAddress('sign_in', context.ip, deps.config.userCodeAttemptsPerIpPerMinute),
          { key: 'sign_in:global', limit: deps.config.signInAttemptsGlobalPerMinute },
        ]),
      // The signed-in session replaces the anonymous one (no fixation) and keeps the claimed code.
      openSession: (tx, user) => {
        next = newSession(deps, { id: user.id, at: now });
        return rotateSession(tx, session.id, next.row);
      },
    });
    // The same answer for an unknown name, a wrong password and a locked account.
    if (!result.ok) {
      if (result.reason === 'wrong_credentials') return wrong(401, WRONG_CREDENTIALS);
      if (result.reason === 'disabled') throw accountUnusable(result.user, now);
      throw forbiddenForm();
    }
    if (!next) throw forbiddenForm();
    setSessionCookie(deps, reply, next.token);
    return redirect(reply, await nextStep(deps, next.row));
  });
}
