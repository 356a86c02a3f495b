/**
 * Token exchange (RFC 8693) of a workload's OIDC token — a CI job's or a Kubernetes pod's — for a
 * short-lived access token of the service principal a federation maps it to. No client secret: the
 * subject token is the credential (DESIGN.md); a `client_id` sent must name that principal.
 */
import { TokenType } from '@clavis/core';
import { type FederatedTokenDeps, issueFederatedToken } from './federated_token.js';
import type { SubjectTokenHandler } from './token_exchange.js';

export const federatedExchange: SubjectTokenHandler<FederatedTokenDeps> = {
  tokenTypes: [TokenType.Jwt, TokenType.IdToken],
  exchange(deps, request) {
    return issueFederatedToken(deps, request, request.subjectToken, 'token-exchange');
  },
};
