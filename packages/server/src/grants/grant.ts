/** What a grant module provides; the token endpoint looks grants up by their wire value. */
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import type { RequestContext } from '../audit/events.js';
import type { Client } from '../clients/client.js';
import type { ServerConfig } from '../config.js';
import type { SecretHasher } from '../crypto/secrets.js';
import type { FormParams } from '../http/form_body.js';
import type { KeyStore } from '../keys/signing_keys.js';
import type { Database } from '../storage/schema.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  issued_token_type?: string;
}

export interface GrantDeps {
  config: ServerConfig;
  db: Kysely<Database>;
  keys: KeyStore;
  audit: AuditLog;
  hasher: SecretHasher;
}

export interface GrantRequest {
  client: Client;
  params: FormParams;
  context: RequestContext;
}

export interface Grant {
  /** The `grant_type` wire value. */
  readonly grantType: string;
  /** Whether a public client (no authentication) may use it. */
  readonly allowPublicClients: boolean;
  handle(deps: GrantDeps, request: GrantRequest): Promise<TokenResponse>;
}
