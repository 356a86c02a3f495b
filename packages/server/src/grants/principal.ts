/**
 * The rule for grants whose credential names the principal (token exchange, JWT bearer): a client that
 * identifies itself — by authenticating or by sending `client_id` — must be that principal. A caller
 * can never use its own identity to stand in for a missing or foreign subject token (TE-09).
 */
import { InvalidRequest } from '@clavis/core';
import type { CredentialGrantRequest } from './grant.js';

/**
 * Throws `invalid_request` unless the caller named no client or named `principalClientId`. For a
 * credential owned by a person (`principalClientId` null) no client may be named.
 */
export function requireClaimedPrincipal(
  request: Pick<CredentialGrantRequest, 'client' | 'claimedClientId'>,
  principalClientId: string | null,
): void {
  const named = request.client?.id ?? request.claimedClientId;
  if (named === null) return;
  if (principalClientId === null || named !== principalClientId) {
    throw new InvalidRequest('client_id does not name the principal the subject token maps to');
  }
}
