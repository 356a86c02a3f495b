/**
 * GET/POST /device: the person types (or confirms) the user code. Wrong codes are bounded per client IP
 * and globally, in the database (DF-10, R-07); the first browser session to enter a code claims it
 * (DF-11). A code from `verification_uri_complete` is only pre-filled: nothing happens without a click.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { claimDeviceCode, findDeviceCodeByUserCode } from '../device/device_store.js';
import { formatUserCode, normaliseUserCode } from '../device/user_code.js';
import { requestContext } from '../http/request_context.js';
import { hitRateLimit, refundRateLimit, windowStart } from '../storage/rate_limits.js';
import type { SessionRow } from '../storage/schema.js';
import { releaseOtherClaims } from '../users/sessions.js';
import { type DevicePagesDeps, nextStep, redirect, sendPage } from './deps.js';
import { ensureSession, field, formOf, PageError, requireFormSession } from './page_http.js';
import { codeEntryPage } from './views.js';

const MINUTE = 60_000;

/**
 * Reserves one guess in the per-IP and the global budget before the code is looked at, so parallel
 * guesses on any number of instances never exceed the budget; a right code gives its reservation back.
 * Throws the 429 page when a budget is spent.
 */
export async function reserveGuess(
  deps: DevicePagesDeps,
  scope: string,
  ip: string,
  limits: { perIp: number; global?: number },
): Promise<() => Promise<void>> {
  const now = deps.config.clock();
  const start = windowStart(now, MINUTE);
  const retryAfter = String(Math.max(1, Math.ceil((start + MINUTE - now) / 1000)));
  const tooMany = () =>
    new PageError(429, 'Too many attempts', 'Too many wrong attempts. Wait a minute, then try again.', {
      'retry-after': retryAfter,
    });
  const ipKey = `${scope}:ip:${ip}`;
  const globalKey = `${scope}:global`;
  if ((await hitRateLimit(deps.db, ipKey, start)) > limits.perIp) throw tooMany();
  if (limits.global !== undefined && (await hitRateLimit(deps.db, globalKey, start)) > limits.global) {
    await refundRateLimit(deps.db, ipKey, start);
    throw tooMany();
  }
  return async () => {
    await refundRateLimit(deps.db, ipKey, start);
    if (limits.global !== undefined) await refundRateLimit(deps.db, globalKey, start);
  };
}

export function registerCodeEntry(scope: FastifyInstance, deps: DevicePagesDeps): void {
  scope.get('/device', async (request: FastifyRequest, reply: FastifyReply) => {
    const session = await ensureSession(deps, request, reply);
    const query = request.query as Record<string, unknown>;
    const given = typeof query.user_code === 'string' ? query.user_code.slice(0, 32) : undefined;
    // Shown for confirmation only: pre-filled in its canonical form when it parses, else as typed.
    const normalised = given === undefined ? null : normaliseUserCode(given);
    return sendPage(
      reply,
      200,
      codeEntryPage({ csrf: session.csrf_token, userCode: normalised ? formatUserCode(normalised) : given }),
    );
  });

  scope.post('/device', async (request, reply) => {
    const form = formOf(request);
    const session = await requireFormSession(deps, request, form);
    const typed = field(form, 'user_code', 64) ?? '';
    const context = requestContext(request);
    const page = (status: number, error: string) =>
      sendPage(reply, status, codeEntryPage({ csrf: session.csrf_token, userCode: typed, error }));

    const userCode = normaliseUserCode(typed);
    if (userCode === null) {
      return page(400, 'That is not a valid code. Codes are 8 letters, like BCDF-GHJK.');
    }
    const refund = await reserveGuess(deps, 'user_code', context.ip ?? 'unknown', {
      perIp: deps.config.userCodeAttemptsPerIpPerMinute,
      global: deps.config.userCodeAttemptsGlobalPerMinute,
    }).catch(async (err: unknown) => {
      await auditCode(deps, session, context, null, 'rate_limited');
      throw err;
    });

    const now = deps.config.clock();
    const code = await findDeviceCodeByUserCode(deps.db, userCode);
    if (code?.status !== 'pending' || Number(code.expires_at) <= now) {
      await auditCode(deps, session, context, code?.client_id ?? null, 'unknown_or_expired');
      return page(
        400,
        'That code is not valid: it may have expired or been used already. Check your terminal.',
      );
    }
    await refund();

    if (!(await claimDeviceCode(deps.db, code.id, session.id, now))) {
      await auditCode(deps, session, context, code.client_id, 'claimed_elsewhere', code.id);
      throw new PageError(
        403,
        'Code in use',
        'This code is already being used in another browser. If that was not you, do not approve it anywhere: start over on your terminal.',
      );
    }
    await releaseOtherClaims(deps.db, session.id, code.id);
    await auditCode(deps, session, context, code.client_id, null, code.id);
    return redirect(reply, await nextStep(deps, session));
  });
}

function auditCode(
  deps: DevicePagesDeps,
  session: SessionRow,
  context: { ip: string | null; userAgent: string | null },
  clientId: string | null,
  failure: string | null,
  request?: string,
): Promise<void> {
  return deps.audit.record({
    event: 'device.code_entered',
    outcome: failure ? 'failure' : 'success',
    actor: session.user_id ? { type: 'user', id: session.user_id } : { type: 'anonymous' },
    clientId,
    ip: context.ip,
    userAgent: context.userAgent,
    detail: { ...(failure ? { reason: failure } : {}), ...(request ? { device_request: request } : {}) },
  });
}
