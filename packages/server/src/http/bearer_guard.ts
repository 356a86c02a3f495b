/**
 * The bearer-token guard of a protected endpoint (RFC 6750): the access token from
 * `Authorization: Bearer`, verified by the caller's verifier, carrying the scope the endpoint needs.
 * Refusals are 401 `invalid_token` (missing, malformed, or refused by the verifier) and 403
 * `insufficient_scope`, each with its `WWW-Authenticate` challenge (§3).
 */
import { InsufficientScope, InvalidToken, parseScope } from '@clavis/core';
import type { FastifyRequest } from 'fastify';

/** What a verifier answers for a presented token: its claims, or why it is refused (shown to the caller). */
export type BearerVerdict<C> = { ok: true; claims: C } | { ok: false; description: string };

export type BearerVerifier<C> = (token: string) => Promise<BearerVerdict<C>>;

/** The longest token taken from the header. */
const MAX_BEARER_TOKEN = 8192;

/** 401 with `WWW-Authenticate: Bearer error="invalid_token"`. */
export function invalidToken(description: string): InvalidToken {
  const err = new InvalidToken(description);
  err.headers['www-authenticate'] = 'Bearer realm="clavis", error="invalid_token"';
  return err;
}

/** 403 with `WWW-Authenticate: Bearer error="insufficient_scope"` naming the scope needed. */
export function insufficientScope(scope: string): InsufficientScope {
  const err = new InsufficientScope(`the access token does not carry ${scope}`);
  err.headers['www-authenticate'] = `Bearer realm="clavis", error="insufficient_scope", scope="${scope}"`;
  return err;
}

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1 syntax). */
function bearerToken(authorization: string | undefined): string {
  const match = authorization === undefined ? null : /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization);
  if (!match?.[1] || match[1].length > MAX_BEARER_TOKEN)
    throw invalidToken('a Bearer access token is required');
  return match[1];
}

export class BearerGuard<C extends { scope?: string | undefined }> {
  readonly #verify: BearerVerifier<C>;

  constructor(verify: BearerVerifier<C>) {
    this.#verify = verify;
  }

  /** The verified token's claims and scopes, if it carries `scope`; throws the RFC 6750 error otherwise. */
  async require(request: FastifyRequest, scope: string): Promise<{ claims: C; scopes: string[] }> {
    const verdict = await this.#verify(bearerToken(request.headers.authorization));
    if (!verdict.ok) throw invalidToken(verdict.description);
    const scopes = parseScope(verdict.claims.scope ?? '') ?? [];
    if (!scopes.includes(scope)) throw insufficientScope(scope);
    return { claims: verdict.claims, scopes };
  }
}
