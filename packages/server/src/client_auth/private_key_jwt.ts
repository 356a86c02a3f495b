/**
 * private_key_jwt (RFC 7523 §2.2, RFC 7521): a JWT the client signs with a key it registered.
 *
 * - keys only from the client's registration (inline JWKS or its jwks_uri); `jwk`/`jku`/`x5u`/`x5c`
 *   headers are ignored, so no header can introduce a key or make us fetch a URL;
 * - asymmetric algorithms only (`none` and HMAC refused, so no HMAC-with-public-key confusion);
 * - `iss` = `sub` = client_id; `aud` a single string naming this server, never an array
 *   (CVE-2025-27370/27371); `exp` required and at most an hour ahead; `iat`/`nbf` not in the
 *   future beyond the tolerated skew; `jti` required and accepted once across every instance;
 * - `kid` optional (RFC 7515 §4.1.4): without one, each registered key that fits the `alg` is tried, so a
 *   client that registered its next key beside its current one (a rotation) still authenticates.
 */
import { InvalidClient } from '@clavis/core';
import {
  type CryptoKey,
  compactVerify,
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type KeyObject,
} from 'jose';
import type { Client } from '../clients/client.js';
import { verifyWithCandidateKeys } from '../crypto/candidate_keys.js';
import { fetchJson } from '../http/outbound_fetch.js';

export const assertionAlgorithms = [
  'EdDSA',
  'Ed25519',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
] as const;

type KeyResolver = (header: JWSHeaderParameters, input: FlattenedJWSInput) => Promise<CryptoKey | KeyObject>;

export interface AssertionPolicy {
  issuer: string;
  tokenEndpoint: string;
  audience: 'issuer' | 'issuer-or-token-endpoint';
  maxLifetimeSeconds: number;
  clockToleranceSeconds: number;
  now: () => number;
}

/** The `iss` (= client_id) of an assertion, read without trusting it, to find the client. */
export function assertionClientId(assertion: string): string {
  let claims: ReturnType<typeof decodeJwt>;
  try {
    if (assertion.length > 8192) throw new Error('too long');
    claims = decodeJwt(assertion);
  } catch {
    throw new InvalidClient('client_assertion is not a well-formed JWT');
  }
  if (typeof claims.iss !== 'string' || !claims.iss) throw new InvalidClient('client_assertion has no iss');
  return claims.iss;
}

/**
 * One remote JWKS cache per jwks_uri, shared across requests (jose caches and rate-limits refetches);
 * the request itself goes through the server's capped fetcher (size cap, no redirects, https).
 */
const remoteSets = new Map<string, KeyResolver>();

const cappedFetch = async (url: string, init: { signal: AbortSignal }): Promise<Response> =>
  Response.json(
    await fetchJson(url, { signal: init.signal, accept: 'application/json, application/jwk-set+json' }),
  );

function keyResolver(client: Client): KeyResolver {
  if (client.jwks) return createLocalJWKSet(client.jwks) as KeyResolver;
  if (client.jwksUri) {
    let set = remoteSets.get(client.jwksUri);
    if (!set) {
      set = createRemoteJWKSet(new URL(client.jwksUri), {
        timeoutDuration: 3000,
        cooldownDuration: 30_000,
        [customFetch]: cappedFetch,
      }) as KeyResolver;
      remoteSets.set(client.jwksUri, set);
    }
    return set;
  }
  throw new InvalidClient('the client has no registered keys');
}

interface VerifiedAssertion {
  jti: string;
  exp: number;
}

/** Verifies the assertion's signature and claims. Replay (`jti`) is checked by the caller. */
export async function verifyClientAssertion(
  assertion: string,
  client: Client,
  policy: AssertionPolicy,
): Promise<VerifiedAssertion> {
  let payload: Uint8Array;
  try {
    ({ payload } = await verifyWithCandidateKeys(keyResolver(client), (key) =>
      compactVerify(assertion, key, { algorithms: [...assertionAlgorithms] }),
    ));
  } catch (err) {
    if (err instanceof InvalidClient) throw err;
    throw new InvalidClient('client_assertion signature is invalid', { cause: err });
  }
  let claims: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(payload));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    claims = parsed as Record<string, unknown>;
  } catch {
    throw new InvalidClient('client_assertion payload is not a JSON object');
  }
  const now = Math.floor(policy.now() / 1000);
  const skew = policy.clockToleranceSeconds;

  if (claims.iss !== client.id) throw new InvalidClient('client_assertion iss must be the client_id');
  if (claims.sub !== client.id) throw new InvalidClient('client_assertion sub must be the client_id');
  if (typeof claims.aud !== 'string') throw new InvalidClient('client_assertion aud must be a single string');
  const audiences = policy.audience === 'issuer' ? [policy.issuer] : [policy.issuer, policy.tokenEndpoint];
  if (!audiences.includes(claims.aud))
    throw new InvalidClient('client_assertion aud must identify this server');
  const { exp, iat, nbf, jti } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp))
    throw new InvalidClient('client_assertion exp is required');
  if (exp <= now - skew) throw new InvalidClient('client_assertion has expired');
  if (exp > now + policy.maxLifetimeSeconds + skew)
    throw new InvalidClient('client_assertion exp is too far ahead');
  if (iat !== undefined && (typeof iat !== 'number' || iat > now + skew)) {
    throw new InvalidClient('client_assertion iat is in the future');
  }
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + skew)) {
    throw new InvalidClient('client_assertion is not yet valid');
  }
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) {
    throw new InvalidClient('client_assertion jti is required');
  }
  return { jti, exp };
}
