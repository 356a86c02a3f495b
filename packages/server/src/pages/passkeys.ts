/**
 * Passkeys and security keys (WebAuthn) as the second factor. GET/POST /device/passkeys: the person's
 * passkeys and the registration ceremony (user verification required; several per person; the first
 * one comes with recovery codes). POST /device/mfa/passkey: the assertion ceremony — challenge spent
 * once, origin and RP ID of this server, signature, user verification, and the signature counter: one
 * that does not grow disables the passkey as a likely clone (MF-03), audited.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { findClient } from '../clients/client_store.js';
import { requestContext } from '../http/request_context.js';
import type { SessionRow, UserRow } from '../storage/schema.js';
import {
  addPasskey,
  disablePasskey,
  findUsablePasskey,
  hasPasskey,
  listPasskeys,
  MAX_PASSKEYS_PER_PERSON,
  recordPasskeyUse,
  usablePasskeys,
} from '../users/passkeys.js';
import { replaceRecoveryCodes } from '../users/recovery_codes.js';
import { findClaimedCode, markSessionMfa } from '../users/sessions.js';
import { lockDetail, recordFailedMfa, recordMfaPassed } from '../users/user_store.js';
import {
  assertionCredentialId,
  assertionOptions,
  passkeyMethod,
  registrationOptions,
  relyingPartyOf,
  verifyAssertion,
  verifyRegistration,
} from '../users/webauthn.js';
import { issueChallenge, spendChallenge } from '../users/webauthn_challenge.js';
import {
  accountUnusable,
  lockoutPolicy,
  nextStep,
  passedPasskey,
  redirect,
  type SecondFactorPageDeps,
  sendPage,
  sessionUser,
} from './deps.js';
import { field, formOf, loadSession, requireFormSession } from './page_http.js';
import { passkeysPage } from './passkey_views.js';
import { mfaPage, recoveryCodesPage } from './views.js';

/** The largest answer a browser sends for a ceremony (attestation objects with certificates included). */
const MAX_ANSWER = 32 * 1024;

/** Whether the client of the session's pending request requires a passkey this session has not passed. */
async function phishingResistantPending(deps: SecondFactorPageDeps, session: SessionRow): Promise<boolean> {
  const code = await findClaimedCode(deps.db, session.id, deps.config.clock());
  if (!code || passedPasskey(session)) return false;
  return (await findClient(deps.db, code.client_id))?.requirePhishingResistantMfa === true;
}

/**
 * The second-factor page for this person: a passkey (with a fresh challenge), a TOTP code, a recovery
 * code — whichever they have.
 */
export async function secondFactorPage(
  deps: SecondFactorPageDeps,
  session: SessionRow,
  user: UserRow,
  error?: string,
): Promise<string> {
  const rp = relyingPartyOf(deps.config.issuer, deps.config.organisationName ?? 'Clavis');
  const passkeys = await usablePasskeys(deps.db, user.id);
  const options = passkeys.length
    ? JSON.stringify(await assertionOptions(rp, passkeys, await issueChallenge(deps.db, session.id)))
    : undefined;
  return mfaPage({
    csrf: session.csrf_token,
    totp: user.totp_secret !== null,
    passkeyOptions: options,
    phishingResistant: await phishingResistantPending(deps, session),
    ...(error ? { error } : {}),
  });
}

export function registerPasskeys(scope: FastifyInstance, deps: SecondFactorPageDeps): void {
  const rp = relyingPartyOf(deps.config.issuer, deps.config.organisationName ?? 'Clavis');

  const signedIn = async (session: SessionRow | undefined) => {
    if (!session) return null;
    const user = await sessionUser(deps, session);
    return user ? { session, user } : null;
  };

  /** A person may add a passkey after passing their second factor, or as their first one. */
  const mayEnrol = async (session: SessionRow, user: UserRow) =>
    session.mfa_at !== null || (user.totp_secret === null && !(await hasPasskey(deps.db, user.id)));

  const spend = (session: SessionRow) => async (challenge: string) =>
    challenge === session.webauthn_challenge && (await spendChallenge(deps.db, session.id, challenge));

  const listPage = async (
    reply: FastifyReply,
    status: number,
    session: SessionRow,
    user: UserRow,
    extra: { error?: string; added?: boolean } = {},
  ) => {
    const passkeys = await listPasskeys(deps.db, user.id);
    const options =
      passkeys.length < MAX_PASSKEYS_PER_PERSON
        ? JSON.stringify(
            await registrationOptions(rp, user, passkeys, await issueChallenge(deps.db, session.id)),
          )
        : undefined;
    return sendPage(reply, status, passkeysPage({ csrf: session.csrf_token, passkeys, options, ...extra }));
  };

  scope.get('/device/passkeys', async (request, reply) => {
    const state = await signedIn(await loadSession(deps, request));
    if (!state) return redirect(reply, '/device/login');
    if (!(await mayEnrol(state.session, state.user))) return redirect(reply, '/device/mfa');
    return listPage(reply, 200, state.session, state.user);
  });

  scope.post('/device/passkeys', async (request, reply) => {
    const form = formOf(request);
    const state = await signedIn(await requireFormSession(deps, request, form));
    if (!state) return redirect(reply, '/device/login');
    const { session, user } = state;
    if (!(await mayEnrol(session, user))) return redirect(reply, '/device/mfa');
    const answer = field(form, 'response', MAX_ANSWER) ?? '';
    const name = (field(form, 'name', 64) ?? '').trim() || 'Passkey';
    const context = requestContext(request);
    const actor = { type: 'user' as const, id: user.id };
    const result = await verifyRegistration(rp, answer, spend(session));
    if (!result.ok) {
      await deps.audit.record({
        event: 'user.mfa_enrolled',
        outcome: 'failure',
        actor,
        ip: context.ip,
        userAgent: context.userAgent,
        detail: { method: 'webauthn', reason: result.reason },
      });
      return listPage(reply, 400, session, user, {
        error: 'That passkey could not be added. Try again.',
      });
    }
    const now = deps.config.clock();
    const first = user.totp_secret === null && !(await hasPasskey(deps.db, user.id));
    const { credential } = result;
    const outcome = await deps.audit.transact(
      async (tx) => {
        const added = await addPasskey(tx, {
          id: credential.id,
          userId: user.id,
          publicKey: credential.publicKey,
          counter: credential.counter,
          transports: credential.transports,
          deviceType: credential.deviceType,
          name,
          now,
        });
        if (!added) return null;
        if (!first) return { codes: null };
        // The first second factor: recovery codes with it, and this session has passed it.
        const codes = await replaceRecoveryCodes(tx, deps.hasher, user.id);
        await markSessionMfa(tx, session.id, user.id, now, passkeyMethod(credential.deviceType));
        return { codes };
      },
      (done) => ({
        event: 'user.mfa_enrolled',
        outcome: done ? 'success' : 'failure',
        actor,
        ip: context.ip,
        userAgent: context.userAgent,
        detail: {
          method: 'webauthn',
          passkey: name,
          credential_id: credential.id,
          device_type: credential.deviceType,
          ...(done?.codes ? { recovery_codes: done.codes.length } : {}),
          ...(done ? {} : { reason: 'already_registered_or_limit' }),
        },
      }),
    );
    if (!outcome) {
      return listPage(reply, 409, session, user, {
        error: `That passkey is already registered, or you have ${MAX_PASSKEYS_PER_PERSON} already.`,
      });
    }
    if (outcome.codes) return sendPage(reply, 200, recoveryCodesPage(outcome.codes, session.csrf_token));
    return listPage(reply, 200, session, user, { added: true });
  });

  scope.post('/device/mfa/passkey', async (request, reply) => {
    const form = formOf(request);
    const state = await signedIn(await requireFormSession(deps, request, form));
    if (!state) return redirect(reply, '/device/login');
    const { session, user } = state;
    const answer = field(form, 'response', MAX_ANSWER) ?? '';
    const context = requestContext(request);
    const now = deps.config.clock();
    const actor = { type: 'user' as const, id: user.id };
    const base = { actor, ip: context.ip, userAgent: context.userAgent };

    const id = assertionCredentialId(answer);
    const stored = id === null ? undefined : await findUsablePasskey(deps.db, user.id, id);
    const result = stored
      ? await verifyAssertion(rp, answer, stored, spend(session))
      : ({ ok: false, reason: id === null ? 'malformed' : 'unknown_credential' } as const);

    if (result.ok && stored) {
      const method = passkeyMethod(result.deviceType);
      const passed = await deps.audit.transact(
        async (tx) =>
          (await recordPasskeyUse(tx, stored.id, result.counter, now)) &&
          (await recordMfaPassed(tx, user.id, now)) &&
          (await markSessionMfa(tx, session.id, user.id, now, method)),
        (ok) =>
          ok
            ? {
                event: 'user.mfa_passed',
                ...base,
                detail: { method: 'webauthn', amr: method, passkey: stored.name, credential_id: stored.id },
              }
            : null,
      );
      if (passed)
        return redirect(reply, await nextStep(deps, { ...session, mfa_at: now, mfa_method: method }));
    }

    let reason: string = result.ok ? 'counter_not_increased' : result.reason;
    let message = 'That did not work. Try again, or use another way.';
    if (!result.ok && result.reason === 'counter_regression' && stored) {
      // Signed by the passkey, but with a counter that went back: two authenticators hold this key.
      await deps.audit.transact(
        (tx) => disablePasskey(tx, stored.id, 'counter_regression', now),
        (disabled) => ({
          event: 'user.passkey_clone',
          outcome: 'failure',
          ...base,
          detail: {
            passkey: stored.name,
            credential_id: stored.id,
            stored_counter: Number(stored.counter),
            presented_counter: result.counter,
            disabled,
          },
        }),
      );
      reason = 'counter_regression';
      message =
        'This passkey was refused: it looks copied to another device, so it has been disabled. Use another passkey or a recovery code, and tell your administrator.';
    }
    const failure = await recordFailedMfa(deps.db, user.id, lockoutPolicy(deps.config), now);
    await deps.audit.record({
      event: 'user.mfa_failed',
      outcome: 'failure',
      ...base,
      detail: { method: 'webauthn', reason, failures: failure.failures },
    });
    if (failure.lockedNow) {
      await deps.audit.record({
        event: 'user.locked',
        outcome: 'failure',
        ...base,
        detail: { reason: 'failed_second_factor', ...lockDetail(failure) },
      });
      throw accountUnusable(
        {
          ...user,
          locked_at: failure.lock?.kind === 'hard' ? now : null,
          locked_until: failure.lock?.kind === 'temporary' ? failure.lock.until : null,
        },
        now,
      );
    }
    const fresh = (await loadSession(deps, request)) ?? session;
    return sendPage(reply, 401, await secondFactorPage(deps, fresh, user, message));
  });
}
