/**
 * GET/POST /device: the person types (or confirms) the user code. Wrong codes are bounded per client
 * address (an IPv6 client's /64) and globally, in the database (DF-10, R-07); the first browser session to enter a code claims it
 * (DF-11). A code from `verification_uri_complete` is only pre-filled: nothing happens without a click.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditEntry, RequestContext } from '../audit/events.js';
import { claimDeviceCode, findDeviceCodeByUserCode } from '../device/device_store.js';
import { formatUserCode, normaliseUserCode } from '../device/user_code.js';
import { requestContext } from '../http/request_context.js';
import { budgetAddress, refundRateLimit, takeRateLimit, windowStart } from '../storage/rate_limits.js';
import type { SessionRow } from '../storage/schema.js';
import { releaseOtherClaims } from '../users/sessions.js';
import { type GuessingPageDeps, nextStep, type PageDeps, redirect, sendPage } from './deps.js';
import { ensureSession, field, formOf, PageError, requireFormSession } from './page_http.js';
import { codeEntryPage } from './views.js';

const MINUTE = 60_000;

/** One fixed-window budget of attempts per minute, shared by every instance. */
interface Budget {
  key: string;
  limit: number;
}

/** The budget of `scope` for one client address (an IPv6 client's whole /64). */
export function perAddress(scope: string, ip: string | null, limit: number): Budget {
  return { key: `${scope}:ip:${budgetAddress(ip)}`, limit };
}

/**
 * Charges one attempt to each budget in turn, before the attempt is made, so parallel attempts on any
 * number of instances never exceed a budget. When one is spent, what the earlier ones were charged is
 * given back and the 429 page is thrown. Resolves to a refund for an attempt that turned out harmless.
 */
export async function reserveGuess(
  deps: Pick<PageDeps, 'config' | 'db'>,
  budgets: Budget[],
): Promise<() => Promise<void>> {
  const now = deps.config.clock();
  const start = windowStart(now, MINUTE);
  const charged: Array<{ key: string; window: number }> = [];
  const refund = async () => {
    for (const { key, window } of charged) await refundRateLimit(deps.db, key, window);
  };
  for (const budget of budgets) {
    const hit = await takeRateLimit(deps.db, budget.key, start);
    if (hit.count > budget.limit) {
      await refund();
      const retryAfter = String(Math.max(1, Math.ceil((hit.windowStart + MINUTE - now) / 1000)));
      throw new PageError(
        429,
        'Too many attempts',
        'Too many wrong attempts. Wait a minute, then try again.',
        { 'retry-after': retryAfter },
      );
    }
    charged.push({ key: budget.key, window: hit.windowStart });
  }
  return refund;
}

export function registerCodeEntry(scope: FastifyInstance, deps: GuessingPageDeps): void {
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
    // The address's budget is charged before the lookup (a right code gives it back); the global one
    // only for wrong codes, after the lookup, so spending it cannot shut out people with right codes.
    const refund = await reserveGuess(deps, [
      perAddress('user_code', context.ip, deps.config.userCodeAttemptsPerIpPerMinute),
    ]).catch(async (err: unknown) => {
      await auditCode(deps, session, context, null, 'rate_limited');
      throw err;
    });

    const now = deps.config.clock();
    const code = await findDeviceCodeByUserCode(deps.db, deps.userCodes.stored(userCode));
    if (code?.status !== 'pending' || Number(code.expires_at) <= now) {
      await reserveGuess(deps, [
        { key: 'user_code:global', limit: deps.config.userCodeAttemptsGlobalPerMinute },
      ]).catch(async (err: unknown) => {
        await auditCode(deps, session, context, null, 'rate_limited');
        throw err;
      });
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

/** Records a code entry; failures are aggregated, and those refused by a budget only counted. */
function auditCode(
  deps: Pick<GuessingPageDeps, 'audit' | 'failures'>,
  session: SessionRow,
  context: RequestContext,
  clientId: string | null,
  failure: string | null,
  request?: string,
): Promise<void> {
  const entry: AuditEntry = {
    event: 'device.code_entered',
    outcome: failure ? 'failure' : 'success',
    actor: session.user_id ? { type: 'user', id: session.user_id } : { type: 'anonymous' },
    clientId,
    ip: context.ip,
    userAgent: context.userAgent,
    requestId: context.requestId,
    detail: { ...(failure ? { reason: failure } : {}), ...(request ? { device_request: request } : {}) },
  };
  if (failure === null) return deps.audit.record(entry);
  return deps.failures.note(
    { entry, subject: request ?? clientId },
    { throttled: failure === 'rate_limited' },
  );
}
