import type { FastifyInstance } from 'fastify';
import { REQUEST_ID_HEADER } from './request_id.js';

/** RFC 6797: browsers that reached us over https once use nothing else for a year. */
const HSTS = 'max-age=31536000';

/**
 * Headers every response carries: the request's id (`X-Request-Id`), no sniffing, no framing, no referrer, a deny-all CSP for non-pages;
 * and HSTS when the issuer is https (`https`).
 */
export function installSecurityHeaders(app: FastifyInstance, options: { https?: boolean } = {}): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (options.https) reply.header('strict-transport-security', HSTS);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    }
    done(null, payload);
  });
}
