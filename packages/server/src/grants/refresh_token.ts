/**
 * The refresh_token grant (RFC 6749 §6) for people's tokens, with rotation (RFC 9700 §4.14.2): every use
 * returns a new refresh token and spends the old one. A spent token presented again means two parties
 * hold the family — one of them a thief — so the whole family and its access tokens are revoked and the
 * event is audited as a likely theft. Scope may narrow, never widen; the family's absolute lifetime and
 * the token's idle lifetime both bound it; the person must still be allowed to sign in.
 */

import { GrantType, InvalidGrant, OPENID_SCOPE } from '@clavis/core';
import type { RequestContext } from '../audit/events.js';
import type { Client } from '../clients/client.js';
import { requireParam } from '../http/form_body.js';
import { upstreamSessionLifetime, upstreamSessionOver } from '../idps/idp_store.js';
import {
  findRefreshToken,
  lockLiveFamily,
  markRotated,
  narrowFamily,
  revokeFamily,
} from '../refresh/refresh_store.js';
import { rekeyHash } from '../storage/hashed_secrets.js';
import { activePerson } from '../users/account_status.js';
import { entitledScopes } from '../users/entitlements.js';
import type { ClientGrant, UserTokenGrantDeps } from './grant.js';
import { grantedScopes } from './scopes.js';
import { issueUserTokens, parseMethods, REFRESH_TOKEN_PREFIX } from './user_tokens.js';

async function revokeForReuse(
  deps: UserTokenGrantDeps,
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
      requestId: context.requestId,
      detail: { family: familyId, sub: userId, family_revoked: revoked, likely_theft: true },
    }),
  );
  throw new InvalidGrant('refresh token is invalid');
}

export const refreshToken: ClientGrant<UserTokenGrantDeps> = {
  grantType: GrantType.RefreshToken,
  clientAuthentication: 'required',
  allowPublicClients: true,

  async handle(deps, { client, params, context }) {
    const { config, db, audit, hasher } = deps;
    const presented = requireParam(params, 'refresh_token');
    // Under any live hashing-key version; one found under an older one is re-keyed as it is spent, so
    // presenting it again is still found (and detected as reuse) once that version is retired.
    const found =
      presented.startsWith(REFRESH_TOKEN_PREFIX) && presented.length <= 128
        ? await hasher.find(presented, (hash) => findRefreshToken(db, hash))
        : undefined;
    const row = found?.row;
    // Another client's token is as unknown as garbage (RT-01): nothing about it changes.
    if (!row || row.client_id !== client.id) throw new InvalidGrant('refresh token is invalid');
    if (row.revoked_at !== null) throw new InvalidGrant('refresh token is invalid');
    if (row.rotated_at !== null) return revokeForReuse(deps, row.family_id, client, row.user_id, context);
    const now = config.clock();
    if (now >= row.idle_expires_at || now >= row.family_expires_at)
      throw new InvalidGrant('refresh token has expired');
    // Checked once more against the family as it is inside the transaction (which may have narrowed).
    const asked = grantedScopes(
      params,
      JSON.parse(row.scopes) as string[],
      () => 'a refresh cannot widen the scope',
    );

    // Loaded before the transaction: loading it inside could wait for the connection the unit holds.
    const signingKey = await deps.keys.current();
    // What is granted inside can only be narrower: an ID token only if `openid` is asked for here.
    const idTokenKey = asked.includes(OPENID_SCOPE) ? await deps.keys.currentIdTokenKey() : undefined;
    const outcome = await audit.transact(
      async (tx) => {
        // Decided inside the transaction, against the family locked here: a revocation (logout, reuse
        // detection, `users disable`) committed before this point refuses the refresh, and one that
        // comes later waits for this commit and revokes the access token minted here as well.
        const family = await lockLiveFamily(tx, row.family_id);
        if (!family) throw new InvalidGrant('refresh token is invalid');
        const person = await activePerson(tx, row.user_id);
        if (!person) throw new InvalidGrant('the account cannot sign in');
        // A person linked to an identity provider signs in there again after its session lifetime, so
        // one the provider no longer accepts cannot refresh past it (idps/idp_store.ts).
        if (upstreamSessionOver(family.auth_time, await upstreamSessionLifetime(tx, row.user_id), now))
          throw new InvalidGrant('sign in again: the upstream session has ended');
        // Spend the presented token; only one concurrent request can.
        if (!(await markRotated(tx, row.id, now))) return undefined;
        if (found?.staleHash) await rekeyHash(tx, 'refresh_tokens', found.staleHash, found.hash);
        // A person who lost an entitlement (admin, part of their ceiling) loses it from the family.
        const familyScopes = JSON.parse(family.scopes) as string[];
        const entitled = entitledScopes(familyScopes, person, { mfa: true });
        if (entitled.length !== familyScopes.length) await narrowFamily(tx, row.family_id, entitled);
        // The family's scope is the ceiling: a refresh may narrow it, never widen it.
        const scopes = grantedScopes(params, entitled, () => 'a refresh cannot widen the scope');
        return issueUserTokens(deps, tx, {
          client,
          userId: row.user_id,
          scopes,
          familyId: row.family_id,
          familyExpiresAt: row.family_expires_at,
          audience: client.audiences[0] ?? config.issuer,
          now,
          signingKey,
          idTokenKey,
          // The same sign-in as the approval that started the family (OIDC Core §12.2).
          username: person.username,
          authentication: { time: family.auth_time, methods: parseMethods(family.amr) },
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
              requestId: context.requestId,
              detail: { family: row.family_id, jti: result.claims.jti, scope: result.claims.scope ?? '' },
            }
          : null,
    );
    // Lost the race to a parallel use of the same token: that is a reuse like any other.
    if (!outcome) return revokeForReuse(deps, row.family_id, client, row.user_id, context);
    return outcome.response;
  },
};
