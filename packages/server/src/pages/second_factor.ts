/**
 * GET/POST /device/mfa: a TOTP code (each time step accepted once, MF-01) or a one-time recovery code;
 * consecutive failures lock the account (MF-02). GET/POST /device/mfa/setup: TOTP enrolment for a user
 * without a second factor when the client requires one, then ten recovery codes shown once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { requestContext } from '../http/request_context.js';
import type { SessionRow, UserRow } from '../storage/schema.js';
import { hasPasskey } from '../users/passkeys.js';
import { normaliseRecoveryCode, replaceRecoveryCodes, useRecoveryCode } from '../users/recovery_codes.js';
import { markSessionMfa } from '../users/sessions.js';
import { generateTotpSecret, matchTotp, totpUri } from '../users/totp.js';
import { openTotpSecret, sealTotpSecret } from '../users/totp_secret.js';
import {
  acceptTotpStep,
  enrolTotp,
  lockDetail,
  recordFailedMfa,
  recordMfaPassed,
} from '../users/user_store.js';
import {
  accountUnusable,
  lockoutPolicy,
  nextStep,
  redirect,
  type SecondFactorPageDeps,
  sendPage,
  sessionUser,
} from './deps.js';
import { field, formOf, loadSession, PageError, requireFormSession } from './page_http.js';
import { secondFactorPage } from './passkeys.js';
import { qrCodeSvg } from './qr_code.js';
import { mfaSetupPage, recoveryCodesPage } from './views.js';

export function registerSecondFactor(scope: FastifyInstance, deps: SecondFactorPageDeps): void {
  const signedIn = async (
    session: SessionRow | undefined,
  ): Promise<{ session: SessionRow; user: UserRow } | null> => {
    if (!session) return null;
    const user = await sessionUser(deps, session);
    return user ? { session, user } : null;
  };

  scope.get('/device/mfa', async (request, reply) => {
    const state = await signedIn(await loadSession(deps, request));
    if (!state) return redirect(reply, '/device/login');
    if (state.user.totp_secret === null && !(await hasPasskey(deps.db, state.user.id)))
      return redirect(reply, await nextStep(deps, state.session));
    return sendPage(reply, 200, await secondFactorPage(deps, state.session, state.user));
  });

  scope.post('/device/mfa', async (request, reply) => {
    const form = formOf(request);
    const state = await signedIn(await requireFormSession(deps, request, form));
    if (!state) return redirect(reply, '/device/login');
    const { session, user } = state;
    // Without TOTP, a person with passkeys may still use a recovery code here.
    if (user.totp_secret === null && !(await hasPasskey(deps.db, user.id)))
      return redirect(reply, await nextStep(deps, session));
    const typed = (field(form, 'code', 64) ?? '').replace(/\s/g, '');
    const context = requestContext(request);
    const now = deps.config.clock();
    const entry = (
      event: 'user.mfa_passed' | 'user.mfa_failed' | 'user.locked',
      detail: Record<string, unknown>,
    ) => ({
      event,
      outcome: event === 'user.mfa_passed' ? ('success' as const) : ('failure' as const),
      actor: { type: 'user' as const, id: user.id },
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      detail,
    });

    let passed = false;
    let method = 'totp';
    const step =
      user.totp_secret === null
        ? null
        : matchTotp(
            openTotpSecret(deps.totpOpenKeys ?? [deps.totpKey], user.id, user.totp_secret),
            typed,
            now,
          );
    if (step !== null) {
      passed = await deps.audit.transact(
        async (tx) =>
          (await acceptTotpStep(tx, user.id, step, now)) &&
          (await markSessionMfa(tx, session.id, user.id, now)),
        (ok) => (ok ? entry('user.mfa_passed', { method }) : null),
      );
    } else {
      const recovery = normaliseRecoveryCode(typed);
      if (recovery !== null) {
        method = 'recovery_code';
        passed = await deps.audit.transact(
          async (tx) =>
            (await useRecoveryCode(tx, deps.hasher, user.id, recovery, now)) &&
            (await recordMfaPassed(tx, user.id, now)) &&
            (await markSessionMfa(tx, session.id, user.id, now, 'recovery_code')),
          (ok) => (ok ? entry('user.mfa_passed', { method }) : null),
        );
      }
    }
    if (passed) return redirect(reply, await nextStep(deps, { ...session, mfa_at: now }));

    const failure = await recordFailedMfa(deps.db, user.id, lockoutPolicy(deps.config), now);
    await deps.audit.record(entry('user.mfa_failed', { method, failures: failure.failures }));
    if (failure.lockedNow) {
      await deps.audit.record(
        entry('user.locked', { reason: 'failed_second_factor', ...lockDetail(failure) }),
      );
      throw accountUnusable(
        {
          ...user,
          locked_at: failure.lock?.kind === 'hard' ? now : null,
          locked_until: failure.lock?.kind === 'temporary' ? failure.lock.until : null,
        },
        now,
      );
    }
    return sendPage(
      reply,
      401,
      await secondFactorPage(
        deps,
        session,
        user,
        'That code is not valid, or was already used. Try the next one.',
      ),
    );
  });

  const enrolmentProof = (session: SessionRow, user: UserRow, secret: string) =>
    createHmac('sha256', deps.cookieKey)
      .update(`totp-enrolment:${session.id}:${user.id}:${secret}`)
      .digest('base64url');

  const setupPage = (session: SessionRow, user: UserRow, secret: string, error?: string) =>
    mfaSetupPage({
      csrf: session.csrf_token,
      secret,
      uri: totpUri(secret, user.username, deps.config.organisationName ?? 'Clavis'),
      qr: qrCodeSvg(totpUri(secret, user.username, deps.config.organisationName ?? 'Clavis'), 'QR code'),
      enrolment: `${secret}.${enrolmentProof(session, user, secret)}`,
      ...(error ? { error } : {}),
    });

  scope.get('/device/mfa/setup', async (request, reply) => {
    const state = await signedIn(await loadSession(deps, request));
    if (!state) return redirect(reply, '/device/login');
    if (state.user.totp_secret !== null) return redirect(reply, await nextStep(deps, state.session));
    return sendPage(reply, 200, setupPage(state.session, state.user, generateTotpSecret()));
  });

  scope.post('/device/mfa/setup', async (request, reply) => {
    const form = formOf(request);
    const state = await signedIn(await requireFormSession(deps, request, form));
    if (!state) return redirect(reply, '/device/login');
    const { session, user } = state;
    if (user.totp_secret !== null) return redirect(reply, await nextStep(deps, session));
    const [secret = '', proof = ''] = (field(form, 'enrolment', 256) ?? '').split('.');
    const expected = Buffer.from(enrolmentProof(session, user, secret));
    if (!secret || proof.length !== expected.length || !timingSafeEqual(Buffer.from(proof), expected)) {
      throw new PageError(
        400,
        'Enrolment expired',
        'This enrolment form is not valid any more. Start again.',
      );
    }
    const now = deps.config.clock();
    const step = matchTotp(secret, (field(form, 'code', 64) ?? '').replace(/\s/g, ''), now);
    if (step === null) {
      return sendPage(
        reply,
        401,
        setupPage(session, user, secret, 'That code is not valid. Check the key and try again.'),
      );
    }
    const context = requestContext(request);
    const codes = await deps.audit.transact(
      async (tx) => {
        if (!(await enrolTotp(tx, user.id, sealTotpSecret(deps.totpKey, user.id, secret), step, now)))
          return null;
        const fresh = await replaceRecoveryCodes(tx, deps.hasher, user.id);
        await markSessionMfa(tx, session.id, user.id, now);
        return fresh;
      },
      (fresh) =>
        fresh && {
          event: 'user.mfa_enrolled',
          actor: { type: 'user', id: user.id },
          ip: context.ip,
          userAgent: context.userAgent,
          requestId: context.requestId,
          detail: { method: 'totp', recovery_codes: fresh.length },
        },
    );
    if (!codes) {
      // Enrolled meanwhile (another tab), or locked/disabled: sessionUser throws the page for the latter.
      await sessionUser(deps, session);
      return redirect(reply, '/device/mfa');
    }
    return sendPage(reply, 200, recoveryCodesPage(codes, session.csrf_token));
  });
}
