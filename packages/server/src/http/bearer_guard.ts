/**
 * The bearer-token guard of a protected endpoint (RFC 6750): the access token from
 * `Authorization: Bearer` (§2.1) or, where the endpoint allows it, the `access_token` field of a POST
 * form body (§2.2) — exactly one of them — verified by the caller's verifier, carrying the scope the
 * endpoint needs. Refusals carry their `WWW-Authenticate` challenge (§3): 400 `invalid_request` for a
 * malformed Bearer header or a token sent two ways, 401 `invalid_token` for a token the verifier refuses,
 * 401 with the bare challenge when the request carries no token at all (§3.1: no error code then), and
 * 403 `insufficient_scope` naming the scope needed.
 */
import { InsufficientScope, InvalidRequest, InvalidToken, parseScope } from '@clavis/core';
import type { FastifyRequest } from 'fastify';
import type { FormParams } from './form_body.js';

/** What a verifier answers for a presented token: its claims, or why it is refused (shown to the caller). */
export type BearerVerdict<C> = { ok: true; claims: C } | { ok: false; description: string };

export type BearerVerifier<C> = (token: string) => Promise<BearerVerdict<C>>;

/** The longest token taken from the header. */
const MAX_BEARER_TOKEN = 8192;

const CHALLENGE = 'Bearer realm="clavis"';

/** 401 with `WWW-Authenticate: Bearer error="invalid_token"`. */
export function invalidToken(description: string): InvalidToken {
  const err = new InvalidToken(description);
  err.headers['www-authenticate'] = `${CHALLENGE}, error="invalid_token"`;
  return err;
}

/** 401 with the bare challenge: the request carried no token at all (§3.1). */
function noToken(): InvalidToken {
  const err = new InvalidToken('a Bearer access token is required');
  err.headers['www-authenticate'] = CHALLENGE;
  return err;
}

/** 400 with `WWW-Authenticate: Bearer error="invalid_request"`. */
function malformed(description: string): InvalidRequest {
  const err = new InvalidRequest(description);
  err.headers['www-authenticate'] = `${CHALLENGE}, error="invalid_request"`;
  return err;
}

/** 403 with `WWW-Authenticate: Bearer error="insufficient_scope"` naming the scope needed. */
export function insufficientScope(scope: string): InsufficientScope {
  const err = new InsufficientScope(`the access token does not carry ${scope}`);
  err.headers['www-authenticate'] = `${CHALLENGE}, error="insufficient_scope", scope="${scope}"`;
  return err;
}

/** RFC 6750 §2.1 `b64token`, after the scheme. */
const BEARER_HEADER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

export interface BearerOptions {
  /** Also take the token from the `access_token` field of a POST form body (RFC 6750 §2.2). */
  formBody?: boolean;
}

/** The one token the request presents (§2: exactly one method), or the refusal. */
function presentedToken(request: FastifyRequest, options: BearerOptions): string {
  const header = request.headers.authorization;
  const form =
    options.formBody && request.method === 'POST'
      ? ((request.body ?? {}) as FormParams).access_token
      : undefined;
  if (header !== undefined && form !== undefined)
    throw malformed('send the access token one way only: the Authorization header or the form body');
  let token: string | undefined;
  if (header !== undefined) {
    if (header.length > MAX_BEARER_TOKEN + 16) throw invalidToken('the access token is invalid or expired');
    const match = BEARER_HEADER.exec(header);
    if (!match) {
      // A Bearer header that does not parse is malformed; another scheme carries no bearer token at all.
      if (/^Bearer(\s|$)/i.test(header)) throw malformed('the Authorization header is malformed');
      throw noToken();
    }
    token = match[1];
  } else if (form !== undefined) {
    token = form;
  } else {
    throw noToken();
  }
  if (!token || token.length > MAX_BEARER_TOKEN) throw invalidToken('the access token is invalid or expired');
  return token;
}

export class BearerGuard<C extends { scope?: string | undefined }> {
  readonly #verify: BearerVerifier<C>;

  constructor(verify: BearerVerifier<C>) {
    this.#verify = verify;
  }

  /** The verified token's claims and scopes, if it carries `scope`; throws the RFC 6750 error otherwise. */
  async require(
    request: FastifyRequest,
    scope: string,
    options: BearerOptions = {},
  ): Promise<{ claims: C; scopes: string[] }> {
    const verdict = await this.#verify(presentedToken(request, options));
    if (!verdict.ok) throw invalidToken(verdict.description);
    const scopes = parseScope(verdict.claims.scope ?? '') ?? [];
    if (!scopes.includes(scope)) throw insufficientScope(scope);
    return { claims: verdict.claims, scopes };
  }
}
