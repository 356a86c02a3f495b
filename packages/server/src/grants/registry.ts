/** The grants this server supports, by `grant_type`. Discovery lists exactly these. */
import { clientCredentials } from './client_credentials.js';
import type { Grant } from './grant.js';

export const grants: ReadonlyMap<string, Grant> = new Map([clientCredentials].map((g) => [g.grantType, g]));
