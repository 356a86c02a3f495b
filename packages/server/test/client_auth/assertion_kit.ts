/**
 * What the client-authentication tests need to act as a client (or an attacker), beyond the shared JWT
 * helpers (test/support/jwt.ts): the claims of an RFC 7523 client assertion, the token request that
 * carries one, and a loopback HTTP server that serves a JWKS and counts every request it gets.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWTPayload } from 'jose';
import { ISSUER } from '../../../../test/support/test_server.js';

/** RFC 7523 §2.2: the wire value, written out here rather than imported from the code under test. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The claims of a valid assertion for `clientId` at `nowMs` (the server's clock), with overrides. */
export function assertionClaims(
  clientId: string,
  nowMs: number,
  overrides: Record<string, unknown> = {},
): JWTPayload {
  const now = Math.floor(nowMs / 1000);
  const claims: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    aud: ISSUER,
    iat: now,
    exp: now + 120,
    jti: randomUUID(),
    ...overrides,
  };
  // An override of `undefined` removes the claim.
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return claims as JWTPayload;
}

/** The token request body of a client_credentials request authenticated by `assertion`. */
export function assertionRequest(
  assertion: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion,
    ...extra,
  };
}

/** A loopback HTTP server that answers every request with `body` (JSON) and records what it was asked. */
export interface RecordingServer {
  url: string;
  requests: Array<Pick<IncomingMessage, 'method' | 'url'>>;
  close(): Promise<void>;
}

export async function startRecordingServer(body: unknown): Promise<RecordingServer> {
  const requests: RecordingServer['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method, url: req.url });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
