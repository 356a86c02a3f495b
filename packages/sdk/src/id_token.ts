/**
 * The id_token a device flow may return with `openid` (OpenID Connect Core §3.1.3.7): verified with
 * the server's JWKS (found by discovery, fetched within the SDK's caps) — signature, `iss` = the
 * issuer, `aud` = the client, `exp` — before its claims name the person.
 *
 * @example
 * ```ts
 * const claims = await verifyIdToken(http, metadata, clientId, response.id_token, Date.now());
 * console.log(usernameOf(claims));
 * ```
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import type { ServerMetadata } from './discovery.js';
import { ClavisError } from './errors.js';
import { type HttpOptions, request } from './http.js';

export async function verifyIdToken(
  http: HttpOptions,
  metadata: ServerMetadata,
  clientId: string,
  idToken: string,
  now: number,
): Promise<JWTPayload> {
  const jwks = await request(http, metadata.jwks_uri, { headers: { accept: 'application/json' } });
  if (jwks.status !== 200 || !Array.isArray(jwks.json?.keys)) {
    throw new ClavisError('invalid_response', 'the server JWKS is unreadable');
  }
  try {
    const { payload } = await jwtVerify(idToken, createLocalJWKSet(jwks.json as unknown as JSONWebKeySet), {
      issuer: metadata.issuer,
      audience: clientId,
      currentDate: new Date(now),
      requiredClaims: ['exp', 'sub'],
    });
    return payload;
  } catch (err) {
    throw new ClavisError('invalid_response', 'the id_token does not verify', { cause: err });
  }
}

/** The username an id_token or userinfo answer names, if any. */
export function usernameOf(claims: Record<string, unknown>): string | undefined {
  for (const name of ['preferred_username', 'username', 'name']) {
    const value = claims[name];
    if (typeof value === 'string' && value) return value;
  }
  return undefined;
}
