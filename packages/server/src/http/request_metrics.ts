/**
 * Counts every response in `clavis_http_request_duration_seconds` by method, route pattern (never the
 * raw URL: no query, no path parameter values; `unmatched` for a 404 of no route) and status.
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

export function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  const histogram = metrics.requestDuration;
  app.addHook('onResponse', (request, reply, done) => {
    histogram.observe(
      {
        method: METHODS.has(request.method) ? request.method : 'other',
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
