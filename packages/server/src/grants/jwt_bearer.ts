/**
 * The JWT bearer authorization grant (RFC 7523 §2.1): a workload presents its platform's signed OIDC
 * token as `assertion` and gets a short-lived access token of the service principal a federation maps
 * it to. The same verification as token exchange; every assertion failure is `invalid_grant` (§3.1).
 */
import { GrantType, InvalidRequest } from '@clavis/core';
import { MAX_WORKLOAD_TOKEN_LENGTH } from '../federation/verify_workload_token.js';
import { type FederatedTokenDeps, issueFederatedToken } from './federated_token.js';
import type { CredentialGrant } from './grant.js';

export const jwtBearer: CredentialGrant<FederatedTokenDeps> = {
  grantType: GrantType.JwtBearer,
  clientAuthentication: 'optional',
  allowPublicClients: true,

  handle(deps, request) {
    const assertion = request.params.assertion;
    if (assertion === undefined) throw new InvalidRequest('missing parameter "assertion"');
    if (assertion === '') throw new InvalidRequest('parameter "assertion" is empty');
    if (assertion.length > MAX_WORKLOAD_TOKEN_LENGTH) throw new InvalidRequest('assertion is too large');
    return issueFederatedToken(deps, request, assertion, 'jwt-bearer');
  },
};
