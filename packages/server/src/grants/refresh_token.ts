/**
 * The refresh_token grant (RFC 6749 §6) for people's tokens, with rotation (RFC 9700 §4.14.2): every use
 * returns a new refresh token and spends the old one. A spent token presented again means two parties
 * hold the family — one of them a thief — so the whole family and its access tokens are revoked and the
 * event is audited as a likely theft. Scope may narrow, never widen; the family's absolute lifetime and
 * the token's idle lifetime both bound it; the person must still be allowed to sign in.
 */
import { InvalidGrant } from '@clavis/core';
import type { RequestContext } from '../audit/events.js';
import type { Client } from '../clients/client.js';
import { isAccountActive } from '../device/account_status.js';
import { requireParam } from '../http/form_body.js';
import { findRefreshToken, markRotated, revokeFamily } from '../refresh/refresh_store.js';
import { issueUserTokens, REFRESH_TOKEN_PREFIX } from '../refresh/user_tokens.js';
import type { ClientGrant, GrantDeps } from './grant.js';
import { grantedScopes } from './scopes.js';

async function revokeForReuse(
  deps: GrantDeps,
  familyId: string,
  client: Client,
  userId: string,
  context: RequestContext,
): Promise<never> {
  const now = deps.config.clock();
  await deps.audit.transact(
    (tx) => revokeFamily(tx, familyId, 'refresh_token_reused', now),
    (revoked) => ({
      event: 'token.refresh_reuse',
      outcome: 'failure',
      actor: { type: 'client', id: client.id },
      clientId: client.id,
      ip: context.ip,
      userAgent: context.userAgent,
      detail: { family: familyId, sub: userId, family_revoked: revoked, likely_theft: true },
    }),
  );
  throw new InvalidGrant('refresh token is invalid');
}

export const refreshToken: ClientGrant = {
  grantType: 'refresh_token',
  clientAuthentication: 'required',
  allowPublicClients: true,

  async handle(deps, { client, params, context }) {
    const { config, db, audit, hasher } = deps;
    const presented = requireParam(params, 'refresh_token');
    const row =
      presented.startsWith(REFRESH_TOKEN_PREFIX) && presented.length <= 128
        ? await findRefreshToken(db, hasher.hash(presented))
        : undefined;
    // Another client's token is as unknown as garbage (RT-01): nothing about it changes.
    if (!row || row.client_id !== client.id) throw new InvalidGrant('refresh token is invalid');
    if (row.revoked_at !== null) throw new InvalidGrant('refresh token is invalid');
    if (row.rotated_at !== null) return revokeForReuse(deps, row.family_id, client, row.user_id, context);
    const now = config.clock();
    if (now >= row.idle_expires_at || now >= row.family_expires_at)
      throw new InvalidGrant('refresh token has expired');

    // The family's scope is the ceiling: a refresh may narrow it, never widen it.
    const scopes = grantedScopes(
      params,
      JSON.parse(row.scopes) as string[],
      () => 'a refresh cannot widen the scope',
    );
    if (!(await isAccountActive(db, row.user_id))) throw new InvalidGrant('the account cannot sign in');

    // Loaded before the transaction: loading it inside could wait for the connection the unit holds.
    const signingKey = await deps.keys.current();
    const outcome = await audit.transact(
      async (tx) => {
        // Spend the presented token; only one concurrent request can.
        if (!(await markRotated(tx, row.id, now))) return undefined;
        return issueUserTokens(deps, tx, {
          client,
          userId: row.user_id,
          scopes,
          familyId: row.family_id,
          familyExpiresAt: row.family_expires_at,
          audience: client.audiences[0] ?? config.issuer,
          now,
          signingKey,
        });
      },
      (result) =>
        result
          ? {
              event: 'token.refresh',
              actor: { type: 'user', id: row.user_id },
              clientId: client.id,
              ip: context.ip,
              userAgent: context.userAgent,
              detail: { family: row.family_id, jti: result.claims.jti, scope: result.claims.scope ?? '' },
            }
          : null,
    );
    // Lost the race to a parallel use of the same token: that is a reuse like any other.
    if (!outcome) return revokeForReuse(deps, row.family_id, client, row.user_id, context);
    return outcome.response;
  },
};
