/**
 * GET/POST /device/password: a person signed in with a one-time password (the bootstrap admin's)
 * chooses their own before anything else. The new password is scrypt-hashed; the change and its audit
 * record commit together.
 */
import type { FastifyInstance } from 'fastify';
import { hashPassword, verifyPassword } from '../crypto/passwords.js';
import { requestContext } from '../http/request_context.js';
import { replaceOneTimePassword } from '../users/user_store.js';
import { type AuditedPageDeps, nextStep, redirect, sendPage, sessionUser } from './deps.js';
import { ensureSession, field, formOf, requireFormSession } from './page_http.js';
import { changePasswordPage } from './views.js';

const MIN_LENGTH = 12;

export function registerChangePassword(scope: FastifyInstance, deps: AuditedPageDeps): void {
  scope.get('/device/password', async (request, reply) => {
    const session = await ensureSession(deps, request, reply);
    const user = await sessionUser(deps, session);
    if (user?.must_change_password !== 1) return redirect(reply, await nextStep(deps, session));
    return sendPage(reply, 200, changePasswordPage({ csrf: session.csrf_token }));
  });

  scope.post('/device/password', async (request, reply) => {
    const form = formOf(request);
    const session = await requireFormSession(deps, request, form);
    const user = await sessionUser(deps, session);
    if (user?.must_change_password !== 1) return redirect(reply, await nextStep(deps, session));
    const password = field(form, 'new_password', 1024) ?? '';
    const confirm = field(form, 'confirm_password', 1024) ?? '';
    const again = (error: string) =>
      sendPage(reply, 400, changePasswordPage({ csrf: session.csrf_token, error }));
    if (password.length < MIN_LENGTH) return again(`Use at least ${MIN_LENGTH} characters.`);
    if (password !== confirm) return again('The two passwords differ.');
    if (user.password_hash && (await verifyPassword(password, user.password_hash))) {
      return again('Choose a password other than the one-time password.');
    }
    const hash = await hashPassword(password);
    const context = requestContext(request);
    await deps.audit.transact((tx) => replaceOneTimePassword(tx, user.id, hash), {
      event: 'user.password_change',
      actor: { type: 'user', id: user.id },
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      detail: { reason: 'one_time_password' },
    });
    return redirect(reply, await nextStep(deps, session));
  });
}
