/**
 * Tokens that carry a person: an RFC 9068 access token with `sub` = the user, an opaque refresh token
 * (`clvr_…`, stored hashed) in the family started by the approval, and — when the scope includes
 * `openid` — an OpenID Connect ID token for the client. Written inside the caller's transaction, with
 * the change that justifies them.
 */
import { OPENID_SCOPE, PROFILE_SCOPE, type TokenResponse } from '@clavis/core';
import type { Transaction } from 'kysely';
import type { Client } from '../clients/client.js';
import { randomId, randomToken } from '../crypto/secrets.js';
import { insertRefreshToken, recordFamilyAccessToken } from '../refresh/refresh_store.js';
import type { Database } from '../storage/schema.js';
import { type AccessTokenClaims, issueAccessToken } from '../tokens/access_token.js';
import { issueIdToken } from '../tokens/id_token.js';
import type { SigningKey } from '../tokens/signing_keys.js';
import type { UserTokenGrantDeps } from './grant.js';
import { bearerTokenResponse } from './token_response.js';

export const REFRESH_TOKEN_PREFIX = 'clvr_';

export interface IssuedUserTokens {
  response: TokenResponse;
  claims: AccessTokenClaims;
  refreshTokenId: string;
}

/** The idle and absolute refresh lifetimes for a client, in seconds. */
export function refreshLifetimes(
  deps: Pick<UserTokenGrantDeps, 'config'>,
  client: Client,
): { idle: number; absolute: number } {
  const absolute = client.refreshAbsoluteTtlSeconds ?? deps.config.refreshAbsoluteTtlSeconds;
  return {
    idle: Math.min(client.refreshIdleTtlSeconds ?? deps.config.refreshIdleTtlSeconds, absolute),
    absolute,
  };
}

/** Stored authentication methods (a JSON array of strings) as a list; null when unknown or unreadable. */
export function parseMethods(stored: string | null): string[] | null {
  if (stored === null) return null;
  try {
    const parsed: unknown = JSON.parse(stored);
    return Array.isArray(parsed) ? parsed.filter((m): m is string => typeof m === 'string') : null;
  } catch {
    return null;
  }
}

export async function issueUserTokens(
  deps: Pick<UserTokenGrantDeps, 'config' | 'keys' | 'hasher'>,
  tx: Transaction<Database>,
  input: {
    client: Client;
    userId: string;
    scopes: readonly string[];
    familyId: string;
    familyExpiresAt: number;
    audience: string;
    now: number;
    /** Loaded before the transaction began (`await keys.current()`): never loaded inside it. */
    signingKey: SigningKey;
    /**
     * The ID tokens' key, loaded before the transaction began (`await keys.currentIdTokenKey()`) when
     * the scopes may include `openid`: never loaded inside it (the first one may generate an RSA key).
     */
    idTokenKey: SigningKey | undefined;
    /** The person's username, for `preferred_username` when `profile` is granted. */
    username: string;
    /** How the person authenticated for the approval behind the family (ID token `auth_time`, `amr`). */
    authentication: { time: number | null; methods: readonly string[] | null };
  },
): Promise<IssuedUserTokens> {
  const { client, now } = input;
  const ttl = Math.min(client.tokenTtlSeconds, deps.config.maxAccessTokenTtlSeconds);
  const { token, claims } = await issueAccessToken(deps.keys, {
    issuer: deps.config.issuer,
    subject: input.userId,
    audience: input.audience,
    clientId: client.id,
    scopes: input.scopes,
    ttlSeconds: ttl,
    now,
    key: input.signingKey,
  });
  await recordFamilyAccessToken(tx, claims.jti, input.familyId, claims.exp * 1000);
  const refreshToken = `${REFRESH_TOKEN_PREFIX}${randomToken(32)}`;
  const refreshTokenId = randomId('rt_', 12);
  const { idle } = refreshLifetimes(deps, client);
  await insertRefreshToken(tx, {
    id: refreshTokenId,
    token_hash: deps.hasher.hash(refreshToken),
    family_id: input.familyId,
    created_at: now,
    idle_expires_at: Math.min(now + idle * 1000, input.familyExpiresAt),
    rotated_at: null,
  });
  const response = bearerTokenResponse(token, claims, ttl, refreshToken);
  if (input.scopes.includes(OPENID_SCOPE)) {
    if (!input.idTokenKey) throw new Error('openid granted but no ID token key was loaded');
    response.id_token = issueIdToken({
      issuer: deps.config.issuer,
      subject: input.userId,
      clientId: client.id,
      ttlSeconds: ttl,
      now,
      authTime: input.authentication.time,
      amr: input.authentication.methods,
      ...(input.scopes.includes(PROFILE_SCOPE) ? { preferredUsername: input.username } : {}),
      key: input.idTokenKey,
    }).token;
  }
  return { response, claims, refreshTokenId };
}
