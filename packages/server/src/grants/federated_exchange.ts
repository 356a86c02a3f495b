/**
 * Token exchange (RFC 8693) of a workload's OIDC token — a CI job's or a Kubernetes pod's — for a
 * short-lived access token of the service principal a federation maps it to. No client secret: the
 * subject token is the credential (DESIGN.md); a `client_id` sent must name that principal.
 */
import { issueFederatedToken } from './federated_token.js';
import type { SubjectTokenHandler } from './token_exchange.js';

export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

export const federatedExchange: SubjectTokenHandler = {
  tokenTypes: [JWT_TOKEN_TYPE, ID_TOKEN_TYPE],
  exchange(deps, request) {
    return issueFederatedToken(deps, request, request.subjectToken, 'token-exchange');
  },
};
