/**
 * A Clavis access token presented to this server itself (not to a resource server): signed by us,
 * unexpired, with this issuer in its `aud` (RFC 9068 §4: a token minted for a resource server is not
 * for us), not revoked, and its principal — the client, and the person for a person's token — still
 * active.
 */
import type { Kysely } from 'kysely';
import { isClientActive } from '../clients/client_store.js';
import type { BearerVerdict } from '../http/bearer_guard.js';
import { isAccessTokenRevoked } from '../storage/revocations.js';
import type { Database } from '../storage/schema.js';
import { isAccountActive } from '../users/account_status.js';
import type { AccessTokenClaims } from './access_token.js';
import type { AccessTokenVerifier } from './token_verifier.js';

export interface LiveAccessTokenDeps {
  tokens: AccessTokenVerifier;
  db: Kysely<Database>;
  issuer: string;
  clock: () => number;
}

const INVALID = { ok: false, description: 'the access token is invalid or expired' } as const;

export async function verifyLiveAccessToken(
  deps: LiveAccessTokenDeps,
  token: string,
): Promise<BearerVerdict<AccessTokenClaims>> {
  const now = Math.floor(deps.clock() / 1000);
  const claims = deps.tokens.verify(token, now);
  if (!claims || claims.exp <= now) return INVALID;
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(deps.issuer))
    return { ok: false, description: 'the access token is not for this server' };
  if (await isAccessTokenRevoked(deps.db, claims.jti)) return INVALID;
  const active =
    claims.sub === claims.client_id
      ? await isClientActive(deps.db, claims.client_id)
      : (await isClientActive(deps.db, claims.client_id)) && (await isAccountActive(deps.db, claims.sub));
  if (!active) return INVALID;
  return { ok: true, claims };
}
