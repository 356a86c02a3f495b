/**
 * GET /device/logout ("Not ada? Sign out") asks, POST /device/logout does it: the browser session ends — its row is deleted, the cookie
 * cleared — and a request it had claimed is let go, so the next person at a shared computer starts from
 * the code and signs in as themselves. A decided request ends the session the same way (`endSession`):
 * a second code in the same browser never goes straight to consent as the first person.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { formatUserCode } from '../device/user_code.js';
import { requestContext } from '../http/request_context.js';
import { rawExec } from '../storage/raw.js';
import type { SessionRow } from '../storage/schema.js';
import { findClaimedCode } from '../users/sessions.js';
import { findUserById } from '../users/user_store.js';
import { type AuditedPageDeps, type PageDeps, sendPage } from './deps.js';
import { clearSessionCookie, formOf, loadSession, requireFormSession } from './page_http.js';
import { signOutPage } from './views.js';

/** Deletes the session, lets go of what it claimed and clears the cookie. */
export async function endSession(deps: PageDeps, reply: FastifyReply, session: SessionRow): Promise<void> {
  await rawExec(
    deps.db,
    `update device_codes set claimed_by_session = null where claimed_by_session = ? and status = 'pending'`,
    [session.id],
  );
  await rawExec(deps.db, 'delete from sessions where id = ?', [session.id]);
  clearSessionCookie(deps, reply);
}

export function registerSignOut(scope: FastifyInstance, deps: AuditedPageDeps): void {
  // The link asks; the form (with the session's CSRF token) does it: another site cannot sign a person
  // out and free the code they claimed for someone else to claim.
  scope.get('/device/logout', async (request, reply) => {
    const session = await loadSession(deps, request);
    if (!session?.user_id)
      return reply.code(303).header('cache-control', 'no-store').header('location', '/device').send();
    const user = await findUserById(deps.db, session.user_id);
    return sendPage(reply, 200, signOutPage({ csrf: session.csrf_token, username: user?.username ?? '' }));
  });

  scope.post('/device/logout', async (request, reply) => {
    const session = await requireFormSession(deps, request, formOf(request));
    const code = await findClaimedCode(deps.db, session.id, deps.config.clock());
    // The same code, for the next person to confirm (a user code is not a secret from this browser).
    const userCode = code && deps.userCodes.code(code.user_code);
    const next = userCode ? `/device?user_code=${encodeURIComponent(formatUserCode(userCode))}` : '/device';
    await endSession(deps, reply, session);
    if (session.user_id) {
      const context = requestContext(request);
      await deps.audit.record({
        event: 'user.sign_out',
        actor: { type: 'user', id: session.user_id },
        ip: context.ip,
        userAgent: context.userAgent,
        detail: code ? { released_request: code.id } : {},
      });
    }
    return reply.code(303).header('cache-control', 'no-store').header('location', next).send();
  });
}
