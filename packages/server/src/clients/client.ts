/** The client (service principal or public CLI) as the server reasons about it. */
import type { JSONWebKeySet } from 'jose';
import type { ClientRow } from '../storage/schema.js';

export type ClientKind = 'public' | 'confidential';
export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

export const clientAuthMethods: readonly ClientAuthMethod[] = [
  'none',
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
];

/** `clients.require_mfa`: 0 none, 1 any second factor, 2 a phishing-resistant one (WebAuthn). */
export const MFA_ANY = 1;
export const MFA_PHISHING_RESISTANT = 2;

/** What a client requires, as admin input gives it: nothing, any second factor, or a phishing-resistant one. */
export type MfaRequirement = boolean | 'phishing-resistant';

/** The stored `require_mfa` value of a requirement. */
export function mfaLevelOf(requirement: MfaRequirement | undefined): number {
  if (requirement === 'phishing-resistant') return MFA_PHISHING_RESISTANT;
  return requirement ? MFA_ANY : 0;
}

/** The requirement in words: `none`, `any` or `phishing-resistant`. */
export function mfaLevelName(c: Pick<Client, 'requireMfa' | 'requirePhishingResistantMfa'>): string {
  if (c.requirePhishingResistantMfa) return 'phishing-resistant';
  return c.requireMfa ? 'any' : 'none';
}

/** The built-in public client the CLI's own login uses; created at first start, never deleted. */
export const CLI_CLIENT_ID = 'clavis-cli';

export interface Client {
  id: string;
  name: string;
  owner: string | null;
  kind: ClientKind;
  authMethod: ClientAuthMethod;
  grantTypes: string[];
  /** The scope ceiling: no token for this client carries a scope outside it. */
  scopes: string[];
  /** Resource identifiers this client may ask tokens for; the first is the default `aud`. */
  audiences: string[];
  jwks: JSONWebKeySet | null;
  jwksUri: string | null;
  tokenTtlSeconds: number;
  createdAt: number;
  createdBy: string | null;
  disabledAt: number | null;
  /** A person may approve this client's device requests only after a second factor. */
  requireMfa: boolean;
  /** ...and that factor must be phishing-resistant (a passkey or security key, not a TOTP code). */
  requirePhishingResistantMfa: boolean;
  /** Refresh-token lifetimes in seconds, or null for the server's defaults. */
  refreshIdleTtlSeconds: number | null;
  refreshAbsoluteTtlSeconds: number | null;
}

export function clientFromRow(row: ClientRow): Client {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    kind: row.kind,
    authMethod: row.auth_method,
    grantTypes: JSON.parse(row.grant_types) as string[],
    scopes: JSON.parse(row.scopes) as string[],
    audiences: JSON.parse(row.audiences) as string[],
    jwks: row.jwks ? (JSON.parse(row.jwks) as JSONWebKeySet) : null,
    jwksUri: row.jwks_uri,
    tokenTtlSeconds: row.token_ttl,
    createdAt: row.created_at,
    createdBy: row.created_by,
    disabledAt: row.disabled_at,
    requireMfa: Number(row.require_mfa) >= MFA_ANY,
    requirePhishingResistantMfa: Number(row.require_mfa) === MFA_PHISHING_RESISTANT,
    refreshIdleTtlSeconds: row.refresh_idle_ttl ?? null,
    refreshAbsoluteTtlSeconds: row.refresh_absolute_ttl ?? null,
  };
}

/** The public view of a client, in the snake_case the CLI and admin API print. */
export function clientView(c: Client): Record<string, unknown> {
  return {
    client_id: c.id,
    name: c.name,
    owner: c.owner,
    kind: c.kind,
    token_endpoint_auth_method: c.authMethod,
    grant_types: c.grantTypes,
    scopes: c.scopes,
    audiences: c.audiences,
    jwks_uri: c.jwksUri,
    has_jwks: c.jwks !== null,
    access_token_ttl: c.tokenTtlSeconds,
    created_at: new Date(c.createdAt).toISOString(),
    created_by: c.createdBy,
    disabled_at: c.disabledAt ? new Date(c.disabledAt).toISOString() : null,
    require_mfa: c.requireMfa,
    require_mfa_level: mfaLevelName(c),
    refresh_idle_ttl: c.refreshIdleTtlSeconds,
    refresh_absolute_ttl: c.refreshAbsoluteTtlSeconds,
  };
}
