/**
 * JWTs in tests: reading one without verifying it (verification is what the tests are about), building
 * parts by hand, real key pairs, and signed assertions — including the ones jose refuses to produce
 * (`alg: none`, HS256 keyed with a public key).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

/** base64url of a value's JSON: a JWS part built by hand. */
export function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** The protected header of a JWS, unverified. */
export function jwtHeader(token: string): Record<string, unknown> {
  return decodePart(token, 0);
}

/** The claims of a JWT, unverified. */
export function jwtClaims(token: string): Record<string, unknown> {
  return decodePart(token, 1);
}

/** The `kid` of a JWS's header. */
export function kidOf(token: string): string {
  return jwtHeader(token).kid as string;
}

/** The `jti` claim of a JWT. */
export function jtiOf(token: string): string {
  return jwtClaims(token).jti as string;
}

export type AssertionAlg = 'EdDSA' | 'ES256' | 'RS256';

export interface ClientKey {
  alg: AssertionAlg;
  kid: string;
  privateKey: CryptoKey;
  /** The public JWK as a client or issuer publishes it: with `alg`, `kid` and `use`. */
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

/** Signs `claims` with `key`; `header` adds to (or overrides) the protected header. */
export function signAssertion(
  key: ClientKey,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .sign(key.privateKey);
}

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
