/**
 * RFC 9457 problem details for the admin API, and the ONE place that maps every error a route can meet
 * (AdminError from the use cases, validation and body errors from Fastify, bearer-token refusals, rate
 * limits, transient storage failures) to a stable problem `type` and status. Anything unexpected becomes
 * a bare 500 with nothing internal in it.
 */
import {
  InsufficientScope,
  InvalidRequest,
  InvalidToken,
  OAuthError,
  TemporarilyUnavailable,
  TooManyRequests,
} from '@clavis/core';
import type { FastifyError } from 'fastify';
import { AdminError } from '../admin/errors.js';
import { isTransientStorageError } from '../storage/errors.js';

/** The stable problem types, `urn:clavis:problem:<slug>`, with their status and title. */
export const problemTypes = {
  'invalid-request': { status: 400, title: 'Invalid request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  'reauthentication-required': { status: 403, title: 'Reauthentication required' },
  'not-found': { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict' },
  'precondition-failed': { status: 412, title: 'Precondition failed' },
  'payload-too-large': { status: 413, title: 'Payload too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'idempotency-key-reused': { status: 422, title: 'Idempotency key reused' },
  'precondition-required': { status: 428, title: 'Precondition required' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  'internal-error': { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const;

export type ProblemSlug = keyof typeof problemTypes;

export const PROBLEM_TYPE_PREFIX = 'urn:clavis:problem:';

/** The body of a problem response. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
}

/** A refusal of the admin API: thrown, turned into `application/problem+json` by `toProblem`. */
export class Problem extends Error {
  override name = 'Problem';
  readonly headers: Record<string, string>;
  constructor(
    readonly slug: ProblemSlug,
    detail: string,
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return problemTypes[this.slug].status;
  }

  body(): ProblemBody {
    return {
      type: `${PROBLEM_TYPE_PREFIX}${this.slug}`,
      title: problemTypes[this.slug].title,
      status: this.status,
      detail: this.message,
    };
  }
}

const adminErrorSlugs: Record<AdminError['code'], ProblemSlug> = {
  invalid_input: 'invalid-request',
  not_found: 'not-found',
  conflict: 'conflict',
};

/** One line of a Fastify validation error, as a person reads it: `body/name must be string`. */
function validationDetail(err: FastifyError): string {
  return (err.message || 'the request does not match its schema').split('\n')[0]?.slice(0, 300) ?? '';
}

/** The problem `err` is answered with, and whether it was unexpected (to be logged). */
export function toProblem(err: unknown): { problem: Problem; unexpected: boolean } {
  if (err instanceof Problem) return { problem: err, unexpected: false };
  if (err instanceof AdminError)
    return { problem: new Problem(adminErrorSlugs[err.code], err.message), unexpected: false };
  if (err instanceof OAuthError) {
    const headers = { ...err.headers };
    const detail = err.description ?? err.code;
    if (err instanceof InvalidToken)
      return { problem: new Problem('unauthorized', detail, { headers }), unexpected: false };
    if (err instanceof InsufficientScope)
      return { problem: new Problem('forbidden', detail, { headers }), unexpected: false };
    if (err instanceof TooManyRequests)
      return { problem: new Problem('rate-limited', detail, { headers }), unexpected: false };
    if (err instanceof TemporarilyUnavailable)
      return { problem: new Problem('unavailable', detail, { headers }), unexpected: false };
    if (err instanceof InvalidRequest) {
      // A malformed Authorization header: the bearer guard's 400 stays a 401 here, with its challenge.
      const slug = headers['www-authenticate'] ? 'unauthorized' : 'invalid-request';
      return { problem: new Problem(slug, detail, { headers }), unexpected: false };
    }
    return { problem: new Problem('invalid-request', detail, { headers }), unexpected: false };
  }
  if (isTransientStorageError(err)) {
    return {
      problem: new Problem('unavailable', 'the service is busy; retry shortly', {
        headers: { 'retry-after': '1' },
        cause: err,
      }),
      unexpected: false,
    };
  }
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe.validation)
    return {
      problem: new Problem('invalid-request', validationDetail(fe as FastifyError)),
      unexpected: false,
    };
  if (typeof fe.code === 'string' && fe.code.startsWith('FST_')) {
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return { problem: new Problem('payload-too-large', 'request body too large'), unexpected: false };
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return {
          problem: new Problem('unsupported-media-type', 'content type must be application/json'),
          unexpected: false,
        };
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return { problem: new Problem('invalid-request', 'the JSON body is empty'), unexpected: false };
      default:
        if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
          return { problem: new Problem('invalid-request', 'malformed request'), unexpected: false };
    }
  }
  if (err instanceof SyntaxError || (err as { statusCode?: unknown }).statusCode === 400)
    return { problem: new Problem('invalid-request', 'the body is not valid JSON'), unexpected: false };
  return { problem: new Problem('internal-error', 'internal error'), unexpected: true };
}
