/**
 * The SDK's own errors: one class, {@link ClavisError}, whose `code` is a literal from
 * {@link ClavisErrorCode}. Protocol errors the server answers with are core's `OAuthError` subclasses
 * (`InvalidGrant`, `SlowDown`, …), never wrapped. No message carries a token, a key or a process's output.
 *
 * @example
 * ```ts
 * try {
 *   await client.getToken();
 * } catch (err) {
 *   if (err instanceof ClavisError && err.code === 'no_credentials') console.error(err.message);
 *   else throw err;
 * }
 * ```
 */

/** Every code a {@link ClavisError} can carry; stable, documented in the README. */
export type ClavisErrorCode =
  | 'no_credentials'
  | 'personal_token_in_ci'
  | 'keychain_unavailable'
  | 'credential_process_failed'
  | 'invalid_private_key'
  | 'federation_unavailable'
  | 'login_expired'
  | 'login_denied'
  | 'cancelled'
  | 'not_logged_in'
  | 'discovery_failed'
  | 'invalid_response'
  | 'network_error'
  | 'lock_timeout'
  | 'invalid_configuration';

/**
 * Every {@link ClavisErrorCode} with what it means, in README order; a test keeps the README and this
 * list in step.
 *
 * @example
 * ```ts
 * for (const [code, meaning] of Object.entries(clavisErrorCodes)) console.log(code, meaning);
 * ```
 */
export const clavisErrorCodes: Readonly<Record<ClavisErrorCode, string>> = {
  no_credentials: 'no credential applies here, and no terminal to log in at',
  personal_token_in_ci: "a person's stored login was found where CI is detected",
  keychain_unavailable: 'no OS keychain answered and CLAVIS_REQUIRE_KEYCHAIN=1 forbids the file fallback',
  credential_process_failed: 'CLAVIS_API_KEY_COMMAND failed, timed out or printed nothing usable',
  invalid_private_key: 'CLAVIS_PRIVATE_KEY(_FILE) is not a PKCS#8 PEM or a private JWK',
  federation_unavailable: "the CI platform's or pod's OIDC token cannot be obtained",
  login_expired: 'the device code expired before it was approved',
  login_denied: 'the person denied the device request',
  cancelled: 'the caller cancelled (AbortSignal)',
  not_logged_in: 'there is no stored login for this server and client',
  discovery_failed: 'the server metadata is unreachable or malformed',
  invalid_response: 'the server answered with something that is not what the protocol says',
  network_error: 'the server could not be reached',
  lock_timeout: 'another process held the refresh lock for too long',
  invalid_configuration: 'an option or environment variable is malformed',
};

/**
 * An SDK error with a stable `code`. Its message is for people and holds nothing secret.
 *
 * @example
 * ```ts
 * if (err instanceof ClavisError && err.code === 'personal_token_in_ci') process.exitCode = 4;
 * ```
 */
export class ClavisError extends Error {
  constructor(
    readonly code: ClavisErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ClavisError';
  }
}
