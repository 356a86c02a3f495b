/**
 * OpenID Connect ID tokens (OIDC Core §2) for people: signed with the current RS256 key (OIDC's default
 * `id_token_signed_response_alg`, which every provider must support), whatever the access tokens' alg —
 * the same keys as the access tokens' when that is RS256 too. Typed `JWT` (never `at+jwt`, so neither
 * can pass for the other), with `aud` the client and a life no longer than the access token's and never
 * above an hour.
 */
import { signCompact } from './jws.js';
import type { SigningKey } from './signing_keys.js';

/** The longest an ID token lives, whatever the access token's lifetime. */
export const MAX_ID_TOKEN_TTL_SECONDS = 3600;

/** Every claim an ID token (or `userinfo`) may carry, for discovery's `claims_supported`. */
export const ID_TOKEN_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'amr',
  'preferred_username',
] as const;

export interface IdTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  /** When the person signed in, seconds since the epoch (OIDC Core §2). */
  auth_time?: number;
  /** RFC 8176 authentication method references. */
  amr?: string[];
  preferred_username?: string;
}

export interface IdTokenInput {
  issuer: string;
  /** The person's id. */
  subject: string;
  /** The client the token is for. */
  clientId: string;
  ttlSeconds: number;
  /** Milliseconds since the epoch. */
  now: number;
  /** When the person signed in, ms since the epoch; omitted from the token when unknown. */
  authTime: number | null;
  /** How they signed in; omitted when unknown. */
  amr: readonly string[] | null;
  /** Present only when the `profile` scope is granted. */
  preferredUsername?: string;
  /** The current ID-token (RS256) key, loaded before any transaction (`keys.currentIdTokenKey()`). */
  key: SigningKey;
}

export interface IssuedIdToken {
  token: string;
  claims: IdTokenClaims;
}

export function issueIdToken(input: IdTokenInput): IssuedIdToken {
  const iat = Math.floor(input.now / 1000);
  const claims: IdTokenClaims = {
    iss: input.issuer,
    sub: input.subject,
    aud: input.clientId,
    exp: iat + Math.min(input.ttlSeconds, MAX_ID_TOKEN_TTL_SECONDS),
    iat,
    ...(input.authTime !== null ? { auth_time: Math.floor(input.authTime / 1000) } : {}),
    ...(input.amr?.length ? { amr: [...input.amr] } : {}),
    ...(input.preferredUsername !== undefined ? { preferred_username: input.preferredUsername } : {}),
  };
  const { key } = input;
  const token = signCompact(
    { alg: key.alg, typ: 'JWT', kid: key.kid },
    { ...claims },
    key.alg,
    key.privateKey,
  );
  return { token, claims };
}
