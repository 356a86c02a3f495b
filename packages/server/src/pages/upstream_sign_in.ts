/**
 * GET /device/sso/start?idp=ID&csrf=TOKEN: "Sign in with NAME". Starts an authorization-code sign-in at
 * the provider (PKCE S256, `state`, `nonce`: idps/upstream_client.ts) for this browser session and the
 * device request it is deciding, and sends the browser there. A link, not a form: the pages' CSP
 * (`form-action 'self'`) would stop a form's redirect to another origin. The CSRF token in the link keeps
 * another site from starting sign-ins in this browser (harmless as it would be: the callback only
 * finishes in the session that started it).
 *
 * Also here: what the sign-in page offers — the providers, and the password form unless every provider
 * says local passwords are off.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { requestContext } from '../http/request_context.js';
import { findIdentityProvider, listIdentityProviders } from '../idps/idp_store.js';
import { UpstreamError } from '../idps/upstream_client.js';
import { beginUpstreamLogin } from '../idps/upstream_logins.js';
import { findClaimedCode } from '../users/sessions.js';
import { perAddress, reserveGuess } from './code_entry.js';
import { type DevicePagesDeps, redirect } from './deps.js';
import { forbiddenForm, loadSession, PageError } from './page_http.js';
import { CALLBACK_PATH, upstreamFailurePage } from './upstream_callback.js';
import type { ProviderChoice } from './upstream_views.js';

/** The providers the sign-in page offers, and whether it offers the password form. */
export async function signInChoices(
  deps: Pick<DevicePagesDeps, 'db' | 'upstream'>,
): Promise<{ providers: ProviderChoice[]; passwords: boolean }> {
  if (!deps.upstream) return { providers: [], passwords: true };
  const rows = await listIdentityProviders(deps.db);
  return {
    providers: rows.map((r) => ({ id: r.id, name: r.name })),
    passwords: rows.length === 0 || rows.some((r) => r.local_passwords === 1),
  };
}

/** The password form is refused when the configuration offers only providers. */
export async function requirePasswordsOffered(deps: Pick<DevicePagesDeps, 'db' | 'upstream'>): Promise<void> {
  if (!(await signInChoices(deps)).passwords) {
    throw new PageError(
      403,
      'Use single sign-on',
      'Passwords are not used here. Sign in with your organisation.',
    );
  }
}

export function registerUpstreamSignIn(scope: FastifyInstance, deps: DevicePagesDeps): void {
  const upstream = deps.upstream;
  if (!upstream) return;
  scope.get('/device/sso/start', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const session = await loadSession(deps, request);
    const csrf = typeof query.csrf === 'string' && query.csrf.length <= 128 ? query.csrf : '';
    if (!session || !csrf || csrf.length !== session.csrf_token.length) throw forbiddenForm();
    if (!timingSafeEqual(Buffer.from(csrf), Buffer.from(session.csrf_token))) throw forbiddenForm();
    const idpId = typeof query.idp === 'string' && query.idp.length <= 64 ? query.idp : '';
    const idp = idpId ? await findIdentityProvider(deps.db, idpId) : undefined;
    if (!idp || idp.id !== idpId) {
      throw new PageError(
        404,
        'Unknown provider',
        'That sign-in provider is not configured here. Start again.',
      );
    }
    const now = deps.config.clock();
    const code = await findClaimedCode(deps.db, session.id, now);
    if (!code) return redirect(reply, '/device');
    // Each start stores a row and costs the provider a request: bounded per address (a 429 page).
    await reserveGuess(deps, [
      perAddress('sso_start', requestContext(request).ip, deps.config.authFailuresPerAddressPerMinute),
    ]);
    const state = await beginUpstreamLogin(
      deps.db,
      deps.cookieKey,
      { sessionId: session.id, deviceCodeId: code.id, idpId: idp.id },
      now,
    );
    let url: URL;
    try {
      url = await upstream.authorizationUrl(idp, {
        state,
        redirectUri: `${deps.config.issuer}${CALLBACK_PATH}`,
      });
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      const context = requestContext(request);
      await deps.audit.record({
        event: 'user.sign_in_failed',
        outcome: 'failure',
        actor: { type: 'anonymous' },
        ip: context.ip,
        userAgent: context.userAgent,
        detail: { method: 'upstream', idp: idp.name, upstream_issuer: idp.issuer, reason: err.reason },
      });
      throw upstreamFailurePage(idp.name, err.reason);
    }
    return reply.code(303).header('cache-control', 'no-store').header('location', url.href).send();
  });
}
