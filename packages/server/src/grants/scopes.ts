/** Scope and audience decisions shared by the grants. */
import { InvalidRequest, InvalidScope, InvalidTarget, KEYS_MINT_SCOPE, parseScope } from '@clavis/core';
import type { FormParams } from '../http/form_body.js';

const MAX_SCOPE_LENGTH = 2048;

/**
 * Scopes granted only when a request names them: never part of what a request without `scope` gets.
 * `keys:mint` turns a token into a source of API keys; it must be asked for on purpose.
 */
const EXPLICIT_ONLY_SCOPES: ReadonlySet<string> = new Set([KEYS_MINT_SCOPE]);

/**
 * The scopes granted for a request: the requested ones if all are within the ceiling (never silently
 * narrowed), or the whole ceiling when no scope was asked for — less the explicit-only scopes.
 */
export function grantedScopes(
  params: FormParams,
  ceiling: readonly string[],
  beyondCeiling: (outside: string[]) => string = (outside) =>
    `scope not allowed for this client: ${outside.slice(0, 5).join(' ')}`,
): string[] {
  const raw = params.scope;
  if (raw === undefined) return ceiling.filter((s) => !EXPLICIT_ONLY_SCOPES.has(s));
  if (raw.length > MAX_SCOPE_LENGTH) throw new InvalidRequest('scope is too long');
  const requested = parseScope(raw);
  if (requested === null) throw new InvalidScope('scope is malformed');
  const outside = requested.filter((s) => !ceiling.includes(s));
  if (outside.length) throw new InvalidScope(beyondCeiling(outside));
  return requested;
}

/**
 * The token's `aud`: the `resource` (RFC 8707) or `audience` (RFC 8693) asked for, if the client may
 * have it; else the client's default audience; else the issuer. The issuer (`fallback`) may always be
 * asked for: it is this server itself, the audience its own endpoints (key minting) require.
 */
export function grantedAudience(params: FormParams, allowed: readonly string[], fallback: string): string {
  const asked = params.resource ?? params.audience;
  if (params.resource !== undefined && params.audience !== undefined && params.resource !== params.audience) {
    throw new InvalidTarget('resource and audience disagree');
  }
  if (asked === undefined) return allowed[0] ?? fallback;
  if (asked.length > 512 || (!allowed.includes(asked) && asked !== fallback))
    throw new InvalidTarget('the requested audience is not allowed');
  return asked;
}
