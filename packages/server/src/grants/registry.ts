/** The grants this server supports, by `grant_type`. Discovery lists exactly these. */
import { clientCredentials } from './client_credentials.js';
import { deviceCode } from './device_code.js';
import type { FederatedTokenDeps } from './federated_token.js';
import { type BoundGrant, bindGrant, type IssuingDeps, type UserTokenGrantDeps } from './grant.js';
import { jwtBearer } from './jwt_bearer.js';
import { refreshToken } from './refresh_token.js';
import { type TokenExchangeDeps, tokenExchange } from './token_exchange.js';

/** What each grant needs, given by the composition root. */
export interface GrantWiring {
  clientCredentials: IssuingDeps;
  deviceCode: UserTokenGrantDeps;
  refreshToken: UserTokenGrantDeps;
  tokenExchange: TokenExchangeDeps;
  jwtBearer: FederatedTokenDeps;
}

/** The grants by `grant_type`, each with its services. */
export type GrantRegistry = ReadonlyMap<string, BoundGrant>;

/** Each supported grant's wire value and whether public clients may use it, for discovery. */
export const supportedGrants: ReadonlyArray<Pick<BoundGrant, 'grantType' | 'allowPublicClients'>> = [
  clientCredentials,
  deviceCode,
  refreshToken,
  tokenExchange,
  jwtBearer,
];

export function grantRegistry(wiring: GrantWiring): GrantRegistry {
  const bound = [
    bindGrant(clientCredentials, wiring.clientCredentials),
    bindGrant(deviceCode, wiring.deviceCode),
    bindGrant(refreshToken, wiring.refreshToken),
    bindGrant(tokenExchange, wiring.tokenExchange),
    bindGrant(jwtBearer, wiring.jwtBearer),
  ];
  return new Map(bound.map((g) => [g.grantType, g]));
}
