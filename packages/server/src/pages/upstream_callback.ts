/**
 * GET /device/sso/callback: where the provider sends the browser back. The sign-in must be this
 * browser's (the `state` names a row bound to this session, taken once: a replayed or foreign callback
 * finds nothing), the device request it started for must still be this session's, the code must redeem
 * with its PKCE verifier, and the ID token must pass its checks (signature, `iss`, `aud`, `nonce`: SS-01).
 * Then the person's groups are checked, the linked (or, the first time, provisioned) person signs in —
 * the session replaced by a fresh one, as with a password — and the flow goes on as after a password:
 * the local second factor where the provider is not trusted for one, then the same consent page. Every
 * refusal is a page, audited (`user.sign_in_failed`, method `upstream`, with its reason), and leaves
 * nothing behind: no person without a link, no half-signed-in session.
 */
import type { FastifyInstance } from 'fastify';
import type { AuditEntry } from '../audit/events.js';
import { requestContext } from '../http/request_context.js';
import { toIdentityProvider } from '../idps/identity_provider.js';
import { findIdentityProvider, touchLink } from '../idps/idp_store.js';
import { groupsAllowed, mapClaims } from '../idps/upstream_claims.js';
import { UpstreamError, type UpstreamFailure, type UpstreamIdentity } from '../idps/upstream_client.js';
import { takeUpstreamLogin } from '../idps/upstream_logins.js';
import { upstreamMfa } from '../idps/upstream_mfa.js';
import { personForUpstream } from '../idps/upstream_person.js';
import type { SessionRow } from '../storage/schema.js';
import { findClaimedCode, rotateSession } from '../users/sessions.js';
import { isUsable } from '../users/user_store.js';
import { accountUnusable, type DevicePagesDeps, nextStep, redirect } from './deps.js';
import { loadSession, newSession, PageError, setSessionCookie } from './page_http.js';

export const CALLBACK_PATH = '/device/sso/callback';

/** The page for a sign-in the provider could not complete. */
export function upstreamFailurePage(name: string, reason: UpstreamFailure): PageError {
  switch (reason) {
    case 'upstream_unavailable':
      return new PageError(
        502,
        'Provider unavailable',
        `${name} did not answer in time. Try again in a moment.`,
      );
    case 'upstream_refused':
      return new PageError(403, 'Not signed in', `${name} did not sign you in. Start again.`);
    case 'code_rejected':
      return new PageError(
        400,
        'Sign-in refused',
        `${name} refused this sign-in; it may have been used already. Start again.`,
      );
    case 'keys_unknown':
      return new PageError(
        502,
        'Provider keys changed',
        `${name} answered with a key it does not publish (its keys may have just changed). Nothing was signed in. Start again.`,
      );
    case 'id_token_invalid':
      return new PageError(
        400,
        'Sign-in not valid',
        `The answer from ${name} did not pass its checks. Nothing was signed in.`,
      );
    default:
      return new PageError(502, 'Provider error', `${name} gave an answer that cannot be used. Start again.`);
  }
}

const notThisBrowser = () =>
  new PageError(
    400,
    'Sign-in not valid here',
    'This sign-in was not started in this browser, has already been used, or has expired. Start again.',
  );

export function registerUpstreamCallback(scope: FastifyInstance, deps: DevicePagesDeps): void {
  const upstream = deps.upstream;
  if (!upstream) return;
  scope.get(CALLBACK_PATH, async (request, reply) => {
    const context = requestContext(request);
    const now = deps.config.clock();
    const query = request.query as Record<string, unknown>;
    const fail = async (
      reason: string,
      page: PageError,
      detail: Record<string, unknown> = {},
      userId?: string,
    ) => {
      const entry: AuditEntry = {
        event: 'user.sign_in_failed',
        outcome: 'failure',
        actor: userId ? { type: 'user', id: userId } : { type: 'anonymous' },
        ip: context.ip,
        userAgent: context.userAgent,
        detail: { method: 'upstream', reason, ...detail },
      };
      await deps.audit.record(entry);
      return page;
    };

    const state = typeof query.state === 'string' && query.state.length <= 128 ? query.state : undefined;
    if (!state) throw await fail('missing_state', notThisBrowser());
    const session = await loadSession(deps, request);
    const taken = await takeUpstreamLogin(deps.db, deps.cookieKey, state, session?.id, now);
    if (!taken.ok || !session) throw await fail(taken.ok ? 'no_session' : taken.reason, notThisBrowser());
    const row = await findIdentityProvider(deps.db, taken.login.idpId);
    if (!row) throw await fail('unknown_provider', notThisBrowser());
    const idp = toIdentityProvider(row);
    const about = { idp: idp.name, upstream_issuer: idp.issuer };

    // The request this sign-in was started for must still be the one this session is deciding.
    const code = await findClaimedCode(deps.db, session.id, now);
    if (!code || code.id !== taken.login.deviceCodeId) {
      throw await fail(
        'request_changed',
        new PageError(
          409,
          'Request closed',
          'The request this sign-in was for was decided or has expired. Start again on your terminal.',
        ),
        about,
      );
    }

    let identity: UpstreamIdentity;
    try {
      identity = await upstream.finish(row, {
        callbackUrl: new URL(request.url, deps.config.issuer),
        state,
        redirectUri: `${deps.config.issuer}${CALLBACK_PATH}`,
      });
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      request.log.warn({ idp: idp.name, reason: err.reason, err: err.cause }, 'upstream sign-in failed');
      throw await fail(err.reason, upstreamFailurePage(idp.name, err.reason), about);
    }
    const upstreamWho = { ...about, upstream_subject: identity.subject.slice(0, 255) };

    const mapped = mapClaims(idp, identity.claims);
    if (!groupsAllowed(idp, mapped.groups)) {
      throw await fail(
        'group_not_allowed',
        new PageError(
          403,
          'Not allowed',
          `Your account at ${idp.name} is not in a group allowed to sign in here. Ask an administrator.`,
        ),
        { ...upstreamWho, groups: mapped.groups.slice(0, 20) },
      );
    }

    const person = await personForUpstream(deps, idp, identity, mapped, context, now);
    if (!person.ok) {
      const page =
        person.reason === 'username_taken'
          ? new PageError(
              409,
              'Account not linked',
              `An account named ${person.username ?? ''} already exists here and is not linked to ${idp.name}. Ask an administrator to link them.`,
            )
          : new PageError(
              400,
              'No username',
              `${idp.name} did not say which username you have here. Ask an administrator.`,
            );
      throw await fail(person.reason, page, {
        ...upstreamWho,
        ...(person.username ? { username: person.username } : {}),
      });
    }
    const { user } = person;
    if (!isUsable(user, now))
      throw await fail('disabled_or_locked', accountUnusable(user, now), upstreamWho, user.id);

    const mfa = upstreamMfa(idp, identity);
    let next: SessionRow | undefined;
    let token: string | undefined;
    const signedIn = await deps.audit.transact(
      async (tx) => {
        if (!(await touchLink(tx, identity.issuer, identity.subject, now))) return false;
        const fresh = newSession(deps, { id: user.id, at: now });
        token = fresh.token;
        next = {
          ...fresh.row,
          mfa_at: mfa.trusted ? now : null,
          idp_id: idp.id,
          sign_in_amr: JSON.stringify(mfa.methods),
        };
        return rotateSession(tx, session.id, next);
      },
      (ok) => ({
        event: ok ? 'user.sign_in' : 'user.sign_in_failed',
        outcome: ok ? 'success' : 'failure',
        actor: { type: 'user', id: user.id },
        ip: context.ip,
        userAgent: context.userAgent,
        detail: {
          method: 'upstream',
          ...upstreamWho,
          upstream_amr: identity.amr.slice(0, 20),
          ...(identity.acr ? { upstream_acr: identity.acr } : {}),
          mfa: mfa.trusted,
          ...(person.provisioned ? { provisioned: true } : {}),
          ...(ok ? {} : { reason: 'session_gone' }),
        },
      }),
    );
    if (!signedIn || !next || !token) throw notThisBrowser();
    setSessionCookie(deps, reply, token);
    return redirect(reply, await nextStep(deps, next));
  });
}
