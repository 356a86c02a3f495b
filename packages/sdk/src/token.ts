/**
 * The token the SDK hands out, and what it says about itself: where it came from (`source`), who it
 * acts as (`principal`), where it is kept (`store`). Built from a token endpoint answer.
 *
 * @example
 * ```ts
 * const token = await client.getToken();
 * console.log(token.source, token.principal.sub, new Date(token.expiresAt ?? 0));
 * ```
 */
import type { TokenResponse } from '@clavis/core';
import { decodeJwt } from 'jose';

/** Which credential produced a token. */
export type TokenSource = 'login' | 'private_key' | 'federation' | 'api_key' | 'env';

/** Where a token is kept between runs: only a person's login is stored. */
export type TokenStoreKind = 'keychain' | 'file' | 'none';

/** Who a token acts as. */
export interface Principal {
  /** The subject: a user id (`usr_…`) or a client id. */
  sub?: string;
  /** A person's username, when known (id_token claims or userinfo). */
  username?: string;
  /** The client the token was issued to (`client_id` claim). */
  clientId?: string;
}

/**
 * An access token and what the SDK knows of it.
 *
 * @example
 * ```ts
 * const { accessToken, source, store } = await client.getToken();
 * ```
 */
export interface Token {
  accessToken: string;
  /** Expiry in milliseconds since the epoch; `null` when unknown (an opaque `CLAVIS_TOKEN`). */
  expiresAt: number | null;
  scopes: string[];
  source: TokenSource;
  principal: Principal;
  store: TokenStoreKind;
}

/**
 * The principal named in an access token's claims, read without verifying (it is only shown; the
 * resource server verifies the token). An opaque token gives `{}`.
 *
 * @example
 * ```ts
 * principalOf(token.accessToken); // { sub: 'svc_…', clientId: 'svc_…' }
 * ```
 */
export function principalOf(accessToken: string): Principal {
  try {
    const claims = decodeJwt(accessToken);
    const principal: Principal = {};
    if (typeof claims.sub === 'string') principal.sub = claims.sub;
    if (typeof claims.client_id === 'string') principal.clientId = claims.client_id;
    if (typeof claims.username === 'string') principal.username = claims.username;
    return principal;
  } catch {
    return {};
  }
}

/** A token endpoint answer as a {@link Token}. */
export function tokenFromResponse(
  response: TokenResponse,
  source: TokenSource,
  now: number,
  store: TokenStoreKind = 'none',
): Token {
  return {
    accessToken: response.access_token,
    expiresAt: now + response.expires_in * 1000,
    scopes: response.scope ? response.scope.split(' ').filter(Boolean) : [],
    source,
    principal: principalOf(response.access_token),
    store,
  };
}

/** A token given as-is (`CLAVIS_TOKEN`): what its claims say, if it is a JWT. */
export function tokenFromEnv(accessToken: string): Token {
  let expiresAt: number | null = null;
  let scopes: string[] = [];
  try {
    const claims = decodeJwt(accessToken);
    if (typeof claims.exp === 'number') expiresAt = claims.exp * 1000;
    if (typeof claims.scope === 'string') scopes = claims.scope.split(' ').filter(Boolean);
  } catch {
    // An opaque token: nothing more to say about it.
  }
  return {
    accessToken,
    expiresAt,
    scopes,
    source: 'env',
    principal: principalOf(accessToken),
    store: 'none',
  };
}

/**
 * Should a token be renewed now? When less than a minute, or a tenth of its lifetime if that is
 * shorter, is left.
 *
 * @example
 * ```ts
 * needsRenewal({ expiresAt: Date.now() + 30_000 }, Date.now() - 600_000, Date.now()); // true
 * ```
 */
export function needsRenewal(token: Pick<Token, 'expiresAt'>, obtainedAt: number, now: number): boolean {
  if (token.expiresAt === null) return false;
  const margin = Math.min(60_000, Math.max(0, token.expiresAt - obtainedAt) / 10);
  return now >= token.expiresAt - margin;
}
