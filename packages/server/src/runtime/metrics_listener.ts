/**
 * `/metrics` on its own listener (`CLAVIS_METRICS_LISTEN=HOST:PORT`): a bare `node:http` server that
 * answers `GET /metrics` and 404 to everything else, so the scrape port can be kept off the public one.
 */
import { createServer, type Server } from 'node:http';
import type { Metrics } from '../metrics/metrics.js';

export interface MetricsListener {
  /** The address it listens on, `http://HOST:PORT`. */
  url: string;
  close(): Promise<void>;
}

export async function listenForMetrics(
  metrics: Metrics,
  where: { host: string; port: number },
): Promise<MetricsListener> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
      });
      response.end('{"error":"not_found"}');
      return;
    }
    metrics.scrape().then(
      ({ contentType, body }) => {
        response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      () => {
        response.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        response.end('{"error":"server_error"}');
      },
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : where.port;
  return {
    url: `http://${where.host.includes(':') ? `[${where.host}]` : where.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
