/** The grants this server supports, by `grant_type`. Discovery lists exactly these. */
import { clientCredentials } from './client_credentials.js';
import { deviceCode } from './device_code.js';
import type { Grant } from './grant.js';
import { jwtBearer } from './jwt_bearer.js';
import { refreshToken } from './refresh_token.js';
import { tokenExchange } from './token_exchange.js';

export const grants: ReadonlyMap<string, Grant> = new Map(
  [clientCredentials, deviceCode, refreshToken, tokenExchange, jwtBearer].map((g) => [g.grantType, g]),
);
