/**
 * OAuth 2.0 errors (RFC 6749 §5.2, RFC 8628 §3.5, RFC 7009, RFC 8693, RFC 9449), one class per wire
 * code, each with its fixed HTTP status. They are thrown where a rule fails and turned into a response
 * in one place (the server's error boundary); the SDK turns wire errors back into the same classes.
 *
 * @example
 * ```ts
 * throw new InvalidScope('scope "admin" exceeds the client\'s ceiling');
 * ```
 *
 * Each class's `code` is its literal wire code, so a switch on the code of a {@link KnownOAuthError}
 * narrows to the class:
 *
 * ```ts
 * const err = oauthErrorFromResponse(body);
 * switch (err.code) {
 *   case 'slow_down':
 *     interval += 5; // err is SlowDown
 *     break;
 *   case 'too_many_requests':
 *     wait(err.headers['retry-after']); // err is TooManyRequests
 * }
 * ```
 */
import type { OAuthErrorResponse } from './wire.js';

/** Every OAuth error code Clavis emits or understands. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'unsupported_token_type'
  | 'access_denied'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'insufficient_scope'
  | 'invalid_token'
  | 'too_many_requests'
  | 'temporarily_unavailable'
  | 'server_error';

/**
 * Makes text fit `error_description` (RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E only): double quotes
 * become single quotes, anything else outside the set (CR, LF, TAB, backslash, non-ASCII) a space;
 * runs of spaces collapse and the result is trimmed and bounded.
 */
export function safeDescription(text: string): string {
  const cleaned = text
    .replace(/"/g, "'")
    .replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  return cleaned.length > 300 ? `${cleaned.slice(0, 297)}...` : cleaned;
}

export abstract class OAuthError extends Error {
  abstract readonly code: OAuthErrorCode;
  abstract readonly status: number;
  /** Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`). */
  readonly headers: Record<string, string> = {};

  constructor(
    readonly description: string,
    options?: { cause?: unknown },
  ) {
    super(description, options);
    this.name = new.target.name;
  }

  /** The RFC 6749 §5.2 JSON body. */
  toJSON(): OAuthErrorResponse {
    return this.description
      ? { error: this.code, error_description: safeDescription(this.description) }
      : { error: this.code };
  }
}

export class InvalidRequest extends OAuthError {
  readonly code = 'invalid_request' as const;
  readonly status: number = 400;
}

export class InvalidClient extends OAuthError {
  readonly code = 'invalid_client' as const;
  readonly status: number = 401;
}

export class InvalidGrant extends OAuthError {
  readonly code = 'invalid_grant' as const;
  readonly status: number = 400;
}

export class UnauthorizedClient extends OAuthError {
  readonly code = 'unauthorized_client' as const;
  readonly status: number = 400;
}

export class UnsupportedGrantType extends OAuthError {
  readonly code = 'unsupported_grant_type' as const;
  readonly status: number = 400;
}

export class InvalidScope extends OAuthError {
  readonly code = 'invalid_scope' as const;
  readonly status: number = 400;
}

export class InvalidTarget extends OAuthError {
  readonly code = 'invalid_target' as const;
  readonly status: number = 400;
}

export class UnsupportedTokenType extends OAuthError {
  readonly code = 'unsupported_token_type' as const;
  readonly status: number = 400;
}

export class AccessDenied extends OAuthError {
  readonly code = 'access_denied' as const;
  readonly status: number = 400;
}

/**
 * `access_denied` with 403: the credential is valid but the request comes from where it may not be used
 * (an API key presented from outside its IP allow-list). Not a malformed request, so not 400.
 */
export class AddressNotAllowed extends AccessDenied {
  override readonly status: number = 403;
}

export class AuthorizationPending extends OAuthError {
  readonly code = 'authorization_pending' as const;
  readonly status: number = 400;
}

export class SlowDown extends OAuthError {
  readonly code = 'slow_down' as const;
  readonly status: number = 400;
}

export class ExpiredToken extends OAuthError {
  readonly code = 'expired_token' as const;
  readonly status: number = 400;
}

export class InvalidDpopProof extends OAuthError {
  readonly code = 'invalid_dpop_proof' as const;
  readonly status: number = 400;
}

export class UseDpopNonce extends OAuthError {
  readonly code = 'use_dpop_nonce' as const;
  readonly status: number = 400;
}

export class InsufficientScope extends OAuthError {
  readonly code = 'insufficient_scope' as const;
  readonly status: number = 403;
}

export class InvalidToken extends OAuthError {
  readonly code = 'invalid_token' as const;
  readonly status: number = 401;
}

/** Too many attempts: 429 with `Retry-After`. */
export class TooManyRequests extends OAuthError {
  readonly code = 'too_many_requests' as const;
  readonly status: number = 429;
  constructor(description: string, retryAfterSeconds: number) {
    super(description);
    this.headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

/** Storage busy or unreachable: 503 with `Retry-After`; the client should try again. */
export class TemporarilyUnavailable extends OAuthError {
  readonly code = 'temporarily_unavailable' as const;
  readonly status: number = 503;
  constructor(description: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(description, options);
    this.headers['retry-after'] = String(options?.retryAfterSeconds ?? 1);
  }
}

export class ServerError extends OAuthError {
  readonly code = 'server_error' as const;
  readonly status: number = 500;
}

/** Every concrete error class's instance: a switch on `code` narrows it to one class. */
export type KnownOAuthError =
  | InvalidRequest
  | InvalidClient
  | InvalidGrant
  | UnauthorizedClient
  | UnsupportedGrantType
  | InvalidScope
  | InvalidTarget
  | UnsupportedTokenType
  | AccessDenied
  | AuthorizationPending
  | SlowDown
  | ExpiredToken
  | InvalidDpopProof
  | UseDpopNonce
  | InsufficientScope
  | InvalidToken
  | TooManyRequests
  | TemporarilyUnavailable
  | ServerError;

/**
 * Each code's class, constructed from a description alone. A code without its class in
 * {@link KnownOAuthError} fails to compile here, as a class whose code is not an `OAuthErrorCode` does above.
 */
type ClassByCode = {
  [C in OAuthErrorCode]: new (
    description: string,
  ) => Extract<KnownOAuthError, { code: C }>;
};

const byCode: ClassByCode = {
  invalid_request: InvalidRequest,
  invalid_client: InvalidClient,
  invalid_grant: InvalidGrant,
  unauthorized_client: UnauthorizedClient,
  unsupported_grant_type: UnsupportedGrantType,
  invalid_scope: InvalidScope,
  invalid_target: InvalidTarget,
  unsupported_token_type: UnsupportedTokenType,
  access_denied: AccessDenied,
  authorization_pending: AuthorizationPending,
  slow_down: SlowDown,
  expired_token: ExpiredToken,
  invalid_dpop_proof: InvalidDpopProof,
  use_dpop_nonce: UseDpopNonce,
  insufficient_scope: InsufficientScope,
  invalid_token: InvalidToken,
  too_many_requests: class extends TooManyRequests {
    constructor(description: string) {
      super(description, 1);
    }
  },
  temporarily_unavailable: TemporarilyUnavailable,
  server_error: ServerError,
};

/** The error codes this module knows, for documentation and tests. */
export const oauthErrorCodes = Object.keys(byCode) as OAuthErrorCode[];

/**
 * Turns a wire error body back into its class (unknown codes become `ServerError`).
 *
 * @example
 * ```ts
 * const err = oauthErrorFromResponse({ error: 'slow_down' }); // instanceof SlowDown
 * ```
 */
export function oauthErrorFromResponse(body: {
  error?: unknown;
  error_description?: unknown;
}): KnownOAuthError {
  const code = typeof body.error === 'string' ? body.error : 'server_error';
  const description = typeof body.error_description === 'string' ? body.error_description : '';
  const Ctor = Object.hasOwn(byCode, code) ? byCode[code as OAuthErrorCode] : ServerError;
  return new Ctor(
    description || (Ctor === ServerError && code !== 'server_error' ? `unknown error ${code}` : ''),
  );
}
