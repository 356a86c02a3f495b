/** Why a credential helper refused its input, as a stable code callers switch on. */
export type CredentialHelperErrorCode =
  | 'input_too_large'
  | 'input_not_utf8'
  | 'malformed_line'
  | 'nul_byte'
  | 'invalid_url'
  | 'invalid_value'
  | 'missing_server_url'
  | 'missing_username'
  | 'malformed_json'
  | 'malformed_exec_info'
  | 'unsupported_api_version';

/** Input a credential helper could not accept. The message never contains a secret from the input. */
export class CredentialHelperError extends Error {
  override name = 'CredentialHelperError';
  readonly code: CredentialHelperErrorCode;
  constructor(code: CredentialHelperErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
