/**
 * What Clavis takes from a checked upstream ID token, by the provider's claim mapping: the username a
 * newly provisioned person gets, their e-mail (recorded, never used to find anyone), their groups, and
 * whether those groups let them sign in.
 */
import type { IdentityProvider } from './identity_provider.js';

/** The usernames Clavis accepts (as `users create` does): 1 to 64 of A-Z a-z 0-9 . _ @ - */
const usernamePattern = /^[A-Za-z0-9._@-]{1,64}$/;

export interface MappedClaims {
  /** undefined when the claim is missing or not a username Clavis accepts. */
  username: string | undefined;
  email: string | undefined;
  groups: string[];
}

export function mapClaims(
  idp: Pick<IdentityProvider, 'claims'>,
  claims: Record<string, unknown>,
): MappedClaims {
  const rawName = claims[idp.claims.username];
  const username =
    typeof rawName === 'string' && usernamePattern.test(rawName) && !rawName.toLowerCase().startsWith('usr_')
      ? rawName
      : undefined;
  const rawEmail = claims[idp.claims.email];
  const rawGroups = claims[idp.claims.groups];
  const groups = Array.isArray(rawGroups)
    ? rawGroups.filter((g): g is string => typeof g === 'string')
    : typeof rawGroups === 'string'
      ? [rawGroups]
      : [];
  return {
    username,
    email: typeof rawEmail === 'string' && rawEmail.length <= 320 ? rawEmail : undefined,
    groups: groups.slice(0, 1000),
  };
}

/** Whether the person's groups let them sign in through this provider. */
export function groupsAllowed(
  idp: Pick<IdentityProvider, 'allowedGroups'>,
  groups: readonly string[],
): boolean {
  return idp.allowedGroups === null || groups.some((g) => idp.allowedGroups?.includes(g));
}
