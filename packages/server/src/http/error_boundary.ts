/**
 * The one place errors become responses. OAuth errors keep their RFC 6749 §5.2 shape and status; the
 * framework's own errors (bad content type, oversized body, malformed JSON) become `invalid_request`;
 * transient storage failures become 503 `temporarily_unavailable` with `Retry-After` (counted in the
 * `StorageHealth`, which logs an outage once); a request that arrives while the server shuts down gets
 * the same 503 and `Connection: close`; anything else is logged and answered as a bare `server_error`,
 * with nothing internal in it.
 */
import { InvalidClient, InvalidRequest, OAuthError, ServerError, TemporarilyUnavailable } from '@clavis/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';
import { isTransientStorageError } from '../storage/errors.js';
import type { StorageHealth } from '../storage/storage_health.js';

/** The answer to a request that arrives while the server shuts down: retry, on another instance. */
export class ShuttingDown extends TemporarilyUnavailable {
  constructor() {
    super('the server is shutting down; retry shortly');
  }
}

/** `invalid_request`, answered with 413 so proxies and clients see what went wrong. */
class BodyTooLarge extends InvalidRequest {
  override readonly status: number = 413;
}

/** `invalid_request` with 405 and `Allow: POST`, for a POST-only endpoint asked with another method. */
class MethodNotAllowed extends InvalidRequest {
  override readonly status: number = 405;
  constructor() {
    super('this endpoint accepts only POST');
    this.headers.allow = 'POST';
  }
}

/**
 * Answers every other method on the POST-only endpoints `paths` with 405 and `Allow: POST` (RFC 9110
 * §15.5.6) and an RFC 6749 error body, instead of the 404 of an unknown path. HEAD rides along with GET.
 */
export function answerPostOnly(app: FastifyInstance, paths: readonly string[]): void {
  for (const url of paths) {
    app.route({
      method: ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
      url,
      handler: async () => {
        throw new MethodNotAllowed();
      },
    });
  }
}

export function toOAuthError(err: unknown): { error: OAuthError; unexpected: boolean } {
  if (err instanceof OAuthError) return { error: err, unexpected: false };
  if (isTransientStorageError(err)) {
    return {
      error: new TemporarilyUnavailable('the service is busy; retry shortly', { cause: err }),
      unexpected: false,
    };
  }
  const fe = err as Partial<FastifyError>;
  if (typeof fe.code === 'string' && fe.code.startsWith('FST_')) {
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return { error: new BodyTooLarge('request body too large'), unexpected: false };
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return {
          error: new InvalidRequest('content type must be application/x-www-form-urlencoded'),
          unexpected: false,
        };
      default:
        if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
          return { error: new InvalidRequest('malformed request'), unexpected: false };
        }
    }
  }
  if ((err as { statusCode?: unknown }).statusCode === 400) {
    return { error: new InvalidRequest('malformed request'), unexpected: false };
  }
  return { error: new ServerError('internal error'), unexpected: true };
}

export function sendOAuthError(reply: FastifyReply, error: OAuthError): FastifyReply {
  reply.code(error.status);
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  if (error instanceof InvalidClient)
    reply.header('www-authenticate', 'Basic realm="clavis", charset="UTF-8"');
  reply.header('cache-control', 'no-store');
  return reply.type('application/json; charset=utf-8').send(error.toJSON());
}

/** Where a shutdown is: readiness says not ready in both phases; only `closing` refuses requests. */
export type ShutdownPhase = 'serving' | 'draining' | 'closing';

export interface ErrorBoundaryOptions {
  /** Counts error answers by code and status, and the storage failures among them. */
  metrics?: Metrics | undefined;
  /** Counts transient storage failures and logs an outage once (default: each logged as a warning). */
  storageHealth?: StorageHealth | undefined;
  /**
   * Where the server's shutdown is. While `draining`, requests are served and every answer closes its
   * connection (keep-alive clients reconnect, to another instance); while `closing`, every request but
   * those on `duringShutdown` is answered `ShuttingDown`, and its connection closed.
   */
  shutdownPhase?: (() => ShutdownPhase) | undefined;
  /** Paths answered as usual while closing (liveness and readiness say what they say). */
  duringShutdown?: readonly string[];
}

export function installErrorBoundary(app: FastifyInstance, options: ErrorBoundaryOptions = {}): void {
  const { storageHealth, shutdownPhase, metrics } = options;
  if (shutdownPhase) {
    const exempt = new Set(options.duringShutdown ?? []);
    // Instead of the framework's own 503 (`return503OnClosing`): an OAuth error with Retry-After and
    // the security headers.
    // Callback hooks: no promise per request on the hot path.
    app.addHook('onRequest', (request, reply, done) => {
      const phase = shutdownPhase();
      if (phase === 'serving') return done();
      reply.header('connection', 'close');
      if (phase === 'closing' && !exempt.has(request.url.split('?', 1)[0] ?? '')) {
        return done(new ShuttingDown());
      }
      done();
    });
    // A request that arrived before the shutdown began: its answer closes the connection too.
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (shutdownPhase() !== 'serving') reply.header('connection', 'close');
      done(null, payload);
    });
  }
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { error, unexpected } = toOAuthError(err);
    if (unexpected) request.log.error({ err, reqId: request.id }, 'unexpected error');
    else if (error instanceof TemporarilyUnavailable && !(error instanceof ShuttingDown)) {
      if (storageHealth) storageHealth.failed(error.cause ?? error);
      else
        request.log.warn({ err: (error.cause as Error)?.message, reqId: request.id }, 'storage unavailable');
    }
    if (metrics) {
      metrics.errors.inc({ error: error.code, status: error.status });
      if (error instanceof TemporarilyUnavailable && isTransientStorageError(error.cause))
        metrics.storageErrors.inc({ kind: 'transient' });
    }
    return sendOAuthError(reply, error);
  });
  app.setNotFoundHandler((_request, reply) => {
    reply
      .code(404)
      .header('cache-control', 'no-store')
      .type('application/json; charset=utf-8')
      .send({ error: 'not_found' });
  });
}
