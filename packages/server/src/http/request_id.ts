/**
 * The request id: the caller's `X-Request-Id` when it is short and safe (a proxy or client correlating
 * its own logs), else a fresh random one. It names the request in log lines and in its audit records,
 * and is echoed in the response's `X-Request-Id` (security_headers.ts).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Letters, digits and `._:-`, at most 64: nothing that could forge a log line or carry a secret's length. */
const SAFE = /^[A-Za-z0-9._:-]{1,64}$/;

/** Fastify's `genReqId`: the incoming id if it is safe, else a new one. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SAFE.test(given) ? given : randomUUID();
}
