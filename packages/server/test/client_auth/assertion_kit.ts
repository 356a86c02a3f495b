/**
 * What the client-authentication tests need to act as a client (or an attacker): real key pairs,
 * RFC 7523 client assertions signed with them (or hand-built, for what jose refuses to sign), the token
 * request that carries one, and a loopback HTTP server that serves a JWKS and counts every request it gets.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { ISSUER } from '../support/test_server.js';

/** RFC 7523 §2.2: the wire value, written out here rather than imported from the code under test. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export type AssertionAlg = 'EdDSA' | 'ES256' | 'RS256';

export interface ClientKey {
  alg: AssertionAlg;
  kid: string;
  privateKey: CryptoKey;
  /** The public JWK as the client registers it: with `alg`, `kid` and `use`. */
  publicJwk: JWK;
}

/** A fresh asymmetric key pair for `alg` (EdDSA = Ed25519). */
export async function newClientKey(alg: AssertionAlg, kid: string = randomUUID()): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg, {
    extractable: true,
  });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), alg, kid, use: 'sig' };
  return { alg, kid, privateKey, publicJwk };
}

export function jwksOf(...keys: ClientKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.publicJwk) };
}

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

/** Signs `claims` with the client's key; `header` adds to (or overrides) the protected header. */
export function signAssertion(
  key: ClientKey,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .sign(key.privateKey);
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWS jose would refuse to produce: `alg: none` (empty signature). */
export function unsecuredAssertion(claims: JWTPayload, header: Record<string, unknown> = {}): string {
  return `${b64url({ alg: 'none', ...header })}.${b64url(claims)}.`;
}

/** An HS256 JWS keyed with arbitrary bytes (a public key's PEM or JWK, an empty key, …). */
export function hmacAssertion(
  secret: Uint8Array | string,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64url({ alg: 'HS256', typ: 'JWT', ...header })}.${b64url(claims)}`;
  const signature = createHmac('sha256', secret).update(input).digest('base64url');
  return `${input}.${signature}`;
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
