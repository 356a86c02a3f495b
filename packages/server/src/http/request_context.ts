import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../audit/events.js';

/**
 * Who is calling, for audit records: the client address (proxy-aware per config), user agent and the
 * request's id.
 */
export function requestContext(request: FastifyRequest): RequestContext {
  const ua = request.headers['user-agent'];
  return {
    ip: request.ip ?? null,
    userAgent: typeof ua === 'string' ? ua.slice(0, 256) : null,
    requestId: request.id,
  };
}
