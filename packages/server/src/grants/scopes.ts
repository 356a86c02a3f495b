/** Scope and audience decisions shared by the grants. */
import { InvalidRequest, InvalidScope, InvalidTarget, parseScope } from '@clavis/core';
import type { FormParams } from '../http/form_body.js';

const MAX_SCOPE_LENGTH = 2048;

/**
 * The scopes granted for a request: the requested ones if all are within the ceiling (never silently
 * narrowed), or the whole ceiling when no scope was asked for.
 */
export function grantedScopes(
  params: FormParams,
  ceiling: readonly string[],
  beyondCeiling: (outside: string[]) => string = (outside) =>
    `scope not allowed for this client: ${outside.slice(0, 5).join(' ')}`,
): string[] {
  const raw = params.scope;
  if (raw === undefined) return [...ceiling];
  if (raw.length > MAX_SCOPE_LENGTH) throw new InvalidRequest('scope is too long');
  const requested = parseScope(raw);
  if (requested === null) throw new InvalidScope('scope is malformed');
  const outside = requested.filter((s) => !ceiling.includes(s));
  if (outside.length) throw new InvalidScope(beyondCeiling(outside));
  return requested;
}

/**
 * The token's `aud`: the `resource` (RFC 8707) or `audience` (RFC 8693) asked for, if the client may
 * have it; else the client's default audience; else the issuer.
 */
export function grantedAudience(params: FormParams, allowed: readonly string[], fallback: string): string {
  const asked = params.resource ?? params.audience;
  if (params.resource !== undefined && params.audience !== undefined && params.resource !== params.audience) {
    throw new InvalidTarget('resource and audience disagree');
  }
  if (asked === undefined) return allowed[0] ?? fallback;
  if (asked.length > 512 || !allowed.includes(asked))
    throw new InvalidTarget('the requested audience is not allowed');
  return asked;
}
