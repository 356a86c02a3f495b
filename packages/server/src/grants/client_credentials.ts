/**
 * The client_credentials grant (RFC 6749 §4.4): a confidential service principal gets a short-lived
 * JWT access token for itself. No refresh token.
 */
import { GrantType } from '@clavis/core';
import { issueAccessToken } from '../tokens/access_token.js';
import type { ClientGrant, IssuingDeps } from './grant.js';
import { grantedAudience, grantedScopes } from './scopes.js';
import { bearerTokenResponse, issuedTokenFacts } from './token_response.js';

export const clientCredentials: ClientGrant<IssuingDeps> = {
  grantType: GrantType.ClientCredentials,
  clientAuthentication: 'required',
  allowPublicClients: false,

  async handle({ config, keys, audit }, { client, params, context }) {
    const scopes = grantedScopes(params, client.scopes);
    const audience = grantedAudience(params, client.audiences, config.issuer);
    const ttl = Math.min(client.tokenTtlSeconds, config.maxAccessTokenTtlSeconds);
    const { token, claims } = await issueAccessToken(keys, {
      issuer: config.issuer,
      subject: client.id,
      audience,
      clientId: client.id,
      scopes,
      ttlSeconds: ttl,
      now: config.clock(),
    });
    await audit.record({
      event: 'token.issue',
      actor: { type: 'client', id: client.id },
      clientId: client.id,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      detail: {
        grant_type: GrantType.ClientCredentials,
        ...issuedTokenFacts(claims),
      },
    });
    return bearerTokenResponse(token, claims, ttl);
  },
};
