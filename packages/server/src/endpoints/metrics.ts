/** `/metrics` on the main port (`CLAVIS_METRICS=1`): the Prometheus text exposition, never cached. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';

export const METRICS_PATH = '/metrics';

export function registerMetricsEndpoint(app: FastifyInstance, metrics: Metrics): void {
  app.get(METRICS_PATH, async (_request, reply) => {
    const { contentType, body } = await metrics.scrape();
    return reply.header('cache-control', 'no-store').type(contentType).send(body);
  });
}
