/** What a grant module provides; the token endpoint looks grants up by their wire value. */
import type { GrantType, TokenResponse } from '@clavis/core';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import type { RequestContext } from '../audit/events.js';
import type { Client } from '../clients/client.js';
import type { ServerConfig } from '../config.js';
import type { SecretHasher } from '../crypto/secrets.js';
import type { FormParams } from '../http/form_body.js';
import type { Database } from '../storage/schema.js';
import type { KeyStore } from '../tokens/signing_keys.js';

/** What issuing an access token needs: the configuration, the signing keys, the audit log. */
export interface IssuingDeps {
  config: ServerConfig;
  keys: KeyStore;
  audit: AuditLog;
}

/** The grants that issue a person's tokens (device code, refresh token) also read and write rows. */
export interface UserTokenGrantDeps extends IssuingDeps {
  db: Kysely<Database>;
  hasher: SecretHasher;
}

export interface GrantRequest {
  client: Client;
  params: FormParams;
  context: RequestContext;
}

/** A grant for an authenticated client: the token endpoint authenticates it before `handle`. */
export interface ClientGrant<D> {
  /** The `grant_type` wire value. */
  readonly grantType: GrantType;
  readonly clientAuthentication: 'required';
  /** Whether a public client (no authentication) may use it. */
  readonly allowPublicClients: boolean;
  handle(deps: D, request: GrantRequest): Promise<TokenResponse>;
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
export interface CredentialGrant<D> {
  readonly grantType: GrantType;
  readonly clientAuthentication: 'optional';
  /** Always true: no client secret is needed. */
  readonly allowPublicClients: true;
  handle(deps: D, request: CredentialGrantRequest): Promise<TokenResponse>;
}

export type Grant<D> = ClientGrant<D> | CredentialGrant<D>;

/** A grant with its services bound, as the token endpoint runs it. */
export type BoundGrant =
  | (Omit<ClientGrant<never>, 'handle'> & { handle(request: GrantRequest): Promise<TokenResponse> })
  | (Omit<CredentialGrant<never>, 'handle'> & {
      handle(request: CredentialGrantRequest): Promise<TokenResponse>;
    });

export function bindGrant<D>(grant: Grant<D>, deps: D): BoundGrant {
  const { grantType, allowPublicClients } = grant;
  return grant.clientAuthentication === 'required'
    ? {
        grantType,
        clientAuthentication: 'required',
        allowPublicClients,
        handle: (r) => grant.handle(deps, r),
      }
    : {
        grantType,
        clientAuthentication: 'optional',
        allowPublicClients: true,
        handle: (r) => grant.handle(deps, r),
      };
}
