/**
 * OAuth 2.0 errors (RFC 6749 §5.2, RFC 8628 §3.5, RFC 7009, RFC 8693, RFC 9449), one class per wire
 * code, each with its fixed HTTP status. They are thrown where a rule fails and turned into a response
 * in one place (the server's error boundary); the SDK turns wire errors back into the same classes.
 *
 * @example
 * ```ts
 * throw new InvalidScope('scope "admin" exceeds the client\'s ceiling');
 * ```
 */

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
  toJSON(): { error: OAuthErrorCode; error_description?: string } {
    return this.description
      ? { error: this.code, error_description: safeDescription(this.description) }
      : { error: this.code };
  }
}

export class InvalidRequest extends OAuthError {
  readonly code: OAuthErrorCode = 'invalid_request';
  readonly status: number = 400;
}

export class InvalidClient extends OAuthError {
  readonly code: OAuthErrorCode = 'invalid_client';
  readonly status: number = 401;
}

export class InvalidGrant extends OAuthError {
  readonly code: OAuthErrorCode = 'invalid_grant';
  readonly status: number = 400;
}

export class UnauthorizedClient extends OAuthError {
  readonly code: OAuthErrorCode = 'unauthorized_client';
  readonly status: number = 400;
}

export class UnsupportedGrantType extends OAuthError {
  readonly code: OAuthErrorCode = 'unsupported_grant_type';
  readonly status: number = 400;
}

export class InvalidScope extends OAuthError {
  readonly code: OAuthErrorCode = 'invalid_scope';
  readonly status: number = 400;
}

export class InvalidTarget extends OAuthError {
  readonly code: OAuthErrorCode = 'invalid_target';
  readonly status: number = 400;
}

export class UnsupportedTokenType extends OAuthError {
  readonly code: OAuthErrorCode = 'unsupported_token_type';
  readonly status: number = 400;
}

export class AccessDenied extends OAuthError {
  readonly code: OAuthErrorCode = 'access_denied';
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
  readonly code: OAuthErrorCode = 'authorization_pending';
  readonly status: number = 400;
}

export class SlowDown extends OAuthError {
  readonly code: OAuthErrorCode = 'slow_down';
  readonly status: number = 400;
}

export class ExpiredToken extends OAuthError {
  readonly code: OAuthErrorCode = 'expired_token';
  readonly status: number = 400;
}

export class InvalidDpopProof extends OAuthError {
  readonly code: OAuthErrorCode = 'invalid_dpop_proof';
  readonly status: number = 400;
}

export class UseDpopNonce extends OAuthError {
  readonly code: OAuthErrorCode = 'use_dpop_nonce';
  readonly status: number = 400;
}

export class InsufficientScope extends OAuthError {
  readonly code: OAuthErrorCode = 'insufficient_scope';
  readonly status: number = 403;
}

export class InvalidToken extends OAuthError {
  readonly code: OAuthErrorCode = 'invalid_token';
  readonly status: number = 401;
}

/** Too many attempts: 429 with `Retry-After`. */
export class TooManyRequests extends OAuthError {
  readonly code: OAuthErrorCode = 'too_many_requests';
  readonly status: number = 429;
  constructor(description: string, retryAfterSeconds: number) {
    super(description);
    this.headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

/** Storage busy or unreachable: 503 with `Retry-After`; the client should try again. */
export class TemporarilyUnavailable extends OAuthError {
  readonly code: OAuthErrorCode = 'temporarily_unavailable';
  readonly status: number = 503;
  constructor(description: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(description, options);
    this.headers['retry-after'] = String(options?.retryAfterSeconds ?? 1);
  }
}

export class ServerError extends OAuthError {
  readonly code: OAuthErrorCode = 'server_error';
  readonly status: number = 500;
}

const byCode: Record<OAuthErrorCode, new (description: string) => OAuthError> = {
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
export function oauthErrorFromResponse(body: { error?: unknown; error_description?: unknown }): OAuthError {
  const code = typeof body.error === 'string' ? body.error : 'server_error';
  const description = typeof body.error_description === 'string' ? body.error_description : '';
  const Ctor = Object.hasOwn(byCode, code) ? byCode[code as OAuthErrorCode] : ServerError;
  return new Ctor(
    description || (Ctor === ServerError && code !== 'server_error' ? `unknown error ${code}` : ''),
  );
}
