/**
 * A scripted HTTP server standing in for a misbehaving authorization server: each path answers what
 * the test says, and every request is recorded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { freePort } from '../../../../test/support/free_port.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, body: URLSearchParams) => void;

export interface StubServer {
  url: string;
  routes: Map<string, Handler>;
  requests: Array<{ path: string; body: URLSearchParams }>;
  close(): Promise<void>;
}

export async function startStub(): Promise<StubServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const routes = new Map<string, Handler>();
  const requests: StubServer['requests'] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString();
    });
    req.on('end', () => {
      const path = new URL(req.url ?? '/', url).pathname;
      const body = new URLSearchParams(raw);
      requests.push({ path, body });
      const handler = routes.get(path);
      if (!handler) {
        res.statusCode = 404;
        res.end();
        return;
      }
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url,
    routes,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

/** Valid metadata for the stub at `url`. */
export function metadataFor(url: string): Record<string, unknown> {
  return {
    issuer: url,
    token_endpoint: `${url}/oauth/token`,
    jwks_uri: `${url}/jwks`,
    revocation_endpoint: `${url}/oauth/revoke`,
    device_authorization_endpoint: `${url}/oauth/device_authorization`,
  };
}
