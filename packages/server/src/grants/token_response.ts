/** What every grant says about an access token it issued: on the wire, and in its audit record. */
import type { TokenResponse } from '@clavis/core';
import type { AccessTokenClaims } from '../tokens/access_token.js';

/** RFC 6749 §5.1: the token endpoint's answer for a Bearer access token (`scope` when it has one). */
export function bearerTokenResponse(
  token: string,
  claims: AccessTokenClaims,
  ttlSeconds: number,
  refreshToken?: string,
): TokenResponse {
  return {
    access_token: token,
    token_type: 'Bearer',
    expires_in: ttlSeconds,
    ...(refreshToken !== undefined ? { refresh_token: refreshToken } : {}),
    ...(claims.scope ? { scope: claims.scope } : {}),
  };
}

/** The facts of an issued token that every `token.issue` record carries (never the token itself). */
export function issuedTokenFacts(claims: AccessTokenClaims): Record<string, unknown> {
  return { jti: claims.jti, sub: claims.sub, scope: claims.scope ?? '', aud: claims.aud, exp: claims.exp };
}
