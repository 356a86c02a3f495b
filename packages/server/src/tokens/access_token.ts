/**
 * JWT access tokens (RFC 9068): `typ: at+jwt`, signed with the current key. Verification here is for
 * tokens we issued (introspection, revocation); resource servers verify with the published JWKS.
 */
import { randomToken } from '../crypto/secrets.js';
import { decodeCompact, type SigningAlg, signCompact, verifySignature } from './jws.js';
import type { KeyStore, SigningKey } from './signing_keys.js';

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
  act?: Record<string, unknown>;
  cnf?: { jkt: string };
  [extra: string]: unknown;
}

export interface IssuedAccessToken {
  token: string;
  claims: AccessTokenClaims;
}

export interface AccessTokenInput {
  issuer: string;
  subject: string;
  audience: string | string[];
  clientId: string;
  scopes: readonly string[];
  ttlSeconds: number;
  now: number;
  extra?: Record<string, unknown>;
  /**
   * The key to sign with, loaded beforehand. Required when signing inside a transaction: loading the
   * key there could need the database connection the transaction holds.
   */
  key?: SigningKey;
}

export async function issueAccessToken(keys: KeyStore, input: AccessTokenInput): Promise<IssuedAccessToken> {
  const key = input.key ?? (await keys.current());
  const iat = Math.floor(input.now / 1000);
  const claims: AccessTokenClaims = {
    iss: input.issuer,
    sub: input.subject,
    aud: input.audience,
    exp: iat + input.ttlSeconds,
    iat,
    jti: randomToken(16),
    client_id: input.clientId,
    ...(input.scopes.length ? { scope: input.scopes.join(' ') } : {}),
    ...input.extra,
  };
  const token = signCompact({ alg: key.alg, typ: 'at+jwt', kid: key.kid }, claims, key.alg, key.privateKey);
  return { token, claims };
}

/**
 * The claims of a token we signed, and the key that signed it, if its signature verifies with one of our published keys and it
 * names us as issuer. Expiry is the caller's decision (revocation accepts expired tokens).
 */
export function verifyOwnAccessToken(
  keys: KeyStore,
  issuer: string,
  token: string,
): { claims: AccessTokenClaims; kid: string } | null {
  const decoded = decodeCompact(token);
  if (!decoded) return null;
  const { header, payload } = decoded;
  if (header.typ !== 'at+jwt' || typeof header.kid !== 'string' || typeof header.alg !== 'string')
    return null;
  if (header.crit !== undefined) return null;
  const key = keys.byKid(header.kid);
  if (!key || key.alg !== (header.alg as SigningAlg)) return null;
  if (!verifySignature(decoded, key.alg, key.publicKey)) return null;
  if (payload.iss !== issuer || typeof payload.jti !== 'string' || typeof payload.exp !== 'number')
    return null;
  if (typeof payload.sub !== 'string' || typeof payload.client_id !== 'string') return null;
  return { claims: payload as AccessTokenClaims, kid: header.kid };
}
