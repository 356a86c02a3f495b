/**
 * An upstream OpenID Connect provider people sign in through, as the rest of the server sees it: parsed
 * from its row, without its client secret (which only the upstream client opens, when it needs it).
 */
import type { IdentityProviderRow } from '../storage/schema.js';

export interface IdentityProvider {
  id: string;
  name: string;
  issuer: string;
  clientId: string;
  scopes: string[];
  claims: { username: string; email: string; groups: string };
  /** Upstream groups allowed to sign in; null: anyone the provider signs in. */
  allowedGroups: string[] | null;
  /** Whether the provider's `amr` (mfa, otp, hwk…) is believed as a second factor. */
  mfaFromAmr: boolean;
  /** `acr` values that are believed as a second factor as well. */
  mfaAcrValues: string[];
  /** Whether local passwords stay offered beside this provider. */
  localPasswords: boolean;
  /** Refresh families of people linked to this provider end this long after their sign-in. */
  sessionLifetimeSeconds: number;
  createdAt: number;
  updatedAt: number;
}

/** Defaults of a new provider. */
export const IDP_DEFAULTS = {
  scopes: ['openid', 'profile', 'email'],
  claims: { username: 'preferred_username', email: 'email', groups: 'groups' },
  /** A working day, as the default refresh idle lifetime: then the person signs in upstream again. */
  sessionLifetimeSeconds: 8 * 3600,
} as const;

function stringList(json: string | null): string[] | null {
  if (json === null) return null;
  const parsed: unknown = JSON.parse(json);
  return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
}

export function toIdentityProvider(row: IdentityProviderRow): IdentityProvider {
  return {
    id: row.id,
    name: row.name,
    issuer: row.issuer,
    clientId: row.client_id,
    scopes: row.scopes.split(' ').filter(Boolean),
    claims: { username: row.claim_username, email: row.claim_email, groups: row.claim_groups },
    allowedGroups: stringList(row.allowed_groups),
    mfaFromAmr: row.mfa_from_amr === 1,
    mfaAcrValues: stringList(row.mfa_acr_values) ?? [],
    localPasswords: row.local_passwords === 1,
    sessionLifetimeSeconds: Number(row.session_lifetime_seconds),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
