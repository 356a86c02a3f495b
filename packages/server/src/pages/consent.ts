/**
 * GET/POST /device/consent and GET /device/done. The consent page shows what defeats remote phishing
 * (RFC 8628 §5.4, DF-12): the client's name, the scopes, when and from where the request was made, the
 * code, and a warning. Only the session that claimed the code may decide it (DF-11), once (DF-07, R-03),
 * as a usable account (DF-13) with the second factor the client demands.
 */
import type { FastifyInstance } from 'fastify';
import { findClient } from '../clients/client_store.js';
import { type AuthenticationContext, decideDeviceCode, findDeviceCode } from '../device/device_store.js';
import { formatUserCode } from '../device/user_code.js';
import { requestContext } from '../http/request_context.js';
import type { SessionRow, UserRow } from '../storage/schema.js';
import { entitledScopes } from '../users/entitlements.js';
import { findClaimedCode } from '../users/sessions.js';
import { type AuditedPageDeps, mfaSatisfied, nextStep, redirect, sendPage, sessionUser } from './deps.js';
import { field, formOf, loadSession, PageError, requireFormSession } from './page_http.js';
import { endSession } from './sign_out.js';
import { fromAnotherNetwork } from './trust.js';
import { consentPage, donePage } from './views.js';

function parseScopes(stored: string): string[] {
  if (stored.startsWith('[')) {
    const parsed: unknown = JSON.parse(stored);
    return Array.isArray(parsed) ? parsed.filter((s): s is string => typeof s === 'string') : [];
  }
  return stored.split(' ').filter(Boolean);
}

/** The scopes of `asked` this person gets from this session: `admin` needs its second factor. */
function grantedToPerson(asked: readonly string[], user: UserRow, session: SessionRow): string[] {
  return entitledScopes(asked, user, { mfa: session.mfa_at !== null });
}

/**
 * How this session's person authenticated (RFC 8176): a password, and as a second factor a one-time code
 * (TOTP or a recovery code: `otp`) or a passkey with user verification (`hwk` for a device-bound key,
 * `swk` for a synced one, and `user`). Kept with the approval for the ID token.
 */
function authenticationOf(session: SessionRow): AuthenticationContext {
  // A single sign-on session records what its provider asserted (idps/upstream_mfa.ts); a local second
  // factor adds what it was: a passkey (`hwk`/`swk` with user verification) or a one-time code.
  const first: string[] = session.sign_in_amr ? (JSON.parse(session.sign_in_amr) as string[]) : ['pwd'];
  const method = session.mfa_method;
  const second = method === 'hwk' || method === 'swk' ? [method, 'user'] : ['otp'];
  return {
    time: session.password_at === null ? null : Number(session.password_at),
    methods: session.mfa_at === null || first.includes('mfa') ? first : [...first, ...second, 'mfa'],
  };
}

const inUseElsewhere = () =>
  new PageError(403, 'Code in use', 'This code is being used in another browser. It cannot be decided here.');
const alreadyDecided = () =>
  new PageError(
    409,
    'Request closed',
    'This request was already decided or has expired. Start again on your terminal.',
  );

export function registerConsent(scope: FastifyInstance, deps: AuditedPageDeps): void {
  scope.get('/device/consent', async (request, reply) => {
    const session = await loadSession(deps, request);
    if (!session) return redirect(reply, '/device');
    const user = await sessionUser(deps, session);
    const code = await findClaimedCode(deps.db, session.id, deps.config.clock());
    const client = code ? await findClient(deps.db, code.client_id) : undefined;
    const userCode = code && deps.userCodes.code(code.user_code);
    if (!user || !code || !client || !userCode || !(await mfaSatisfied(deps, session, user, client))) {
      return redirect(reply, await nextStep(deps, session));
    }
    const asked = parseScopes(code.scopes);
    const granted = grantedToPerson(asked, user, session);
    return sendPage(
      reply,
      200,
      consentPage({
        csrf: session.csrf_token,
        request: code.id,
        clientName: client.name,
        clientId: client.id,
        scopes: granted,
        withheld: asked.filter((s) => !granted.includes(s)),
        requestedAt: Number(code.created_at),
        requesterIp: code.requester_ip,
        requesterUserAgent: code.requester_user_agent,
        userCode: formatUserCode(userCode),
        username: user.username,
        scopeDescriptions: deps.config.scopeDescriptions,
        staysSignedInSeconds: client.grantTypes.includes('refresh_token')
          ? (client.refreshAbsoluteTtlSeconds ?? deps.config.refreshAbsoluteTtlSeconds)
          : client.tokenTtlSeconds,
        otherNetwork: fromAnotherNetwork(code.requester_ip, requestContext(request).ip),
      }),
    );
  });

  scope.post('/device/consent', async (request, reply) => {
    const form = formOf(request);
    const session = await requireFormSession(deps, request, form);
    const action = field(form, 'action', 16);
    const requestId = field(form, 'request', 64);
    if ((action !== 'approve' && action !== 'deny') || !requestId) {
      throw new PageError(400, 'Bad request', 'Choose Approve or Deny on the consent page.');
    }
    const now = deps.config.clock();
    const code = await findDeviceCode(deps.db, requestId);
    if (!code) throw alreadyDecided();
    if (code.claimed_by_session !== session.id) {
      const context = requestContext(request);
      await deps.audit.record({
        event: action === 'approve' ? 'device.approve' : 'device.deny',
        outcome: 'failure',
        actor: session.user_id ? { type: 'user', id: session.user_id } : { type: 'anonymous' },
        clientId: code.client_id,
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        detail: { device_request: code.id, reason: 'not_the_claiming_session' },
      });
      throw inUseElsewhere();
    }
    const user = await sessionUser(deps, session); // throws the page for a locked or disabled account
    const client = await findClient(deps.db, code.client_id);
    if (!user || !client) return redirect(reply, await nextStep(deps, session));
    if (action === 'approve' && !(await mfaSatisfied(deps, session, user, client))) {
      return redirect(reply, await nextStep(deps, session));
    }

    const context = requestContext(request);
    const approve = action === 'approve';
    // What approving grants is fixed now, for this person and this session: the code then carries it.
    const asked = parseScopes(code.scopes);
    const granted = grantedToPerson(asked, user, session);
    const decided = await deps.audit.transact(
      (tx) =>
        decideDeviceCode(tx, {
          id: code.id,
          sessionId: session.id,
          userId: user.id,
          approve,
          now,
          ...(approve ? { scopes: granted, authentication: authenticationOf(session) } : {}),
        }),
      (ok) => ({
        event: approve ? 'device.approve' : 'device.deny',
        outcome: ok ? 'success' : 'failure',
        actor: { type: 'user', id: user.id },
        clientId: client.id,
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        detail: {
          device_request: code.id,
          scope: (approve ? granted : asked).join(' '),
          ...(approve && granted.length !== asked.length
            ? { withheld: asked.filter((s) => !granted.includes(s)).join(' ') }
            : {}),
          mfa: session.mfa_at !== null,
          ...(ok ? {} : { reason: 'already_decided_or_expired' }),
        },
      }),
    );
    if (!decided) throw alreadyDecided();
    // Decided: the session ends, so the next code in this browser starts with a sign-in.
    await endSession(deps, reply, session);
    return redirect(reply, `/device/done?outcome=${approve ? 'approved' : 'denied'}`);
  });

  scope.get('/device/done', async (request, reply) => {
    const { outcome } = request.query as Record<string, unknown>;
    return sendPage(reply, 200, donePage(outcome === 'approved'));
  });
}
