/** What a grant module provides; the token endpoint looks grants up by their wire value. */
import type { GrantType, TokenResponse } from '@clavis/core';
import type { Kysely } from 'kysely';
import type { ApiKeyVerifier } from '../api_keys/verify_api_key.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { RequestContext } from '../audit/events.js';
import type { FailureLog } from '../audit/failure_log.js';
import type { Client } from '../clients/client.js';
import type { ClientDirectory } from '../clients/client_directory.js';
import type { ServerConfig } from '../config.js';
import type { SecretHasher } from '../crypto/secrets.js';
import type { IssuerKeys } from '../federation/issuer_keys.js';
import type { FormParams } from '../http/form_body.js';
import type { Database } from '../storage/schema.js';
import type { KeyStore } from '../tokens/signing_keys.js';

export interface GrantDeps {
  config: ServerConfig;
  db: Kysely<Database>;
  keys: KeyStore;
  audit: AuditLog;
  /** Unauthenticated failures (refused keys, workload tokens): throttled per address, aggregated. */
  failures: FailureLog;
  hasher: SecretHasher;
  clients: ClientDirectory;
  // Workload-token issuers' keys, cached per instance.
  issuerKeys: IssuerKeys;
  // The app's one API-key verifier (it batches use counts); absent, keys are refused.
  apiKeys?: ApiKeyVerifier;
}

export interface GrantRequest {
  client: Client;
  params: FormParams;
  context: RequestContext;
}

/** A grant for an authenticated client: the token endpoint authenticates it before `handle`. */
export interface ClientGrant {
  /** The `grant_type` wire value. */
  readonly grantType: GrantType;
  readonly clientAuthentication: 'required';
  /** Whether a public client (no authentication) may use it. */
  readonly allowPublicClients: boolean;
  handle(deps: GrantDeps, request: GrantRequest): Promise<TokenResponse>;
}

/**
 * What a grant whose own credential names the principal receives: a federated workload token, an API
 * key, a JWT bearer assertion. The caller need not authenticate as a client (DESIGN.md: "the subject
 * token is the credential"); if it does, `client` is the authenticated client, else `claimedClientId`
 * is the `client_id` it sent, if any. Either must name the principal the credential maps to
 * ({@link requireClaimedPrincipal}).
 */
export interface CredentialGrantRequest {
  client: Client | null;
  claimedClientId: string | null;
  params: FormParams;
  context: RequestContext;
}

/** A grant where client authentication is optional because the request carries its own credential. */
export interface CredentialGrant {
  readonly grantType: GrantType;
  readonly clientAuthentication: 'optional';
  /** Always true: no client secret is needed. */
  readonly allowPublicClients: true;
  handle(deps: GrantDeps, request: CredentialGrantRequest): Promise<TokenResponse>;
}

export type Grant = ClientGrant | CredentialGrant;
