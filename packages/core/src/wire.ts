/**
 * The JSON bodies Clavis's endpoints answer with, as the server writes them and a client reads them.
 * Field names are the wire's (snake_case); times in seconds, absolute times in seconds since the epoch.
 *
 * @example
 * ```ts
 * const res = await fetch(`${issuer}/oauth/token`, { method: 'POST', body });
 * if (!res.ok) throw oauthErrorFromResponse((await res.json()) as OAuthErrorResponse);
 * const token = (await res.json()) as TokenResponse;
 * ```
 */
import type { OAuthErrorCode } from './errors.js';
import type { GrantType } from './protocol.js';

/** An error from any endpoint (RFC 6749 §5.2); `error_description` is for people, never parsed. */
export interface OAuthErrorResponse {
  error: OAuthErrorCode;
  error_description?: string;
}

/** The token endpoint's answer (RFC 6749 §5.1, RFC 8693 §2.2.1), sent with `Cache-Control: no-store`. */
export interface TokenResponse {
  access_token: string;
  /** `DPoP` when the token is bound to a DPoP key (RFC 9449), else `Bearer`. */
  token_type: 'Bearer' | 'DPoP';
  /** Seconds until the access token expires. */
  expires_in: number;
  /** The granted scopes, space-separated; absent when the token carries none. */
  scope?: string;
  /** Present for people's tokens (device and refresh grants); each use rotates it. */
  refresh_token?: string;
  /** Token exchange only (RFC 8693): always `TokenType.AccessToken`. */
  issued_token_type?: string;
  /**
   * An OpenID Connect ID token (a JWT, `typ: JWT`, `aud` = the client) about the person, from the device
   * and refresh grants when the granted scope includes `openid`.
   */
  id_token?: string;
}

/**
 * The `userinfo` endpoint's answer (OIDC Core §5.3.2) for a person's access token carrying `openid`,
 * sent with `Cache-Control: no-store`.
 */
export interface UserinfoResponse {
  /** The person's id (`usr_…`), the same `sub` as the access and ID tokens. */
  sub: string;
  /** The username; only when the token carries `profile`. */
  preferred_username?: string;
}

/** The device authorization endpoint's answer (RFC 8628 §3.2). */
export interface DeviceAuthorizationResponse {
  /** The secret the device polls the token endpoint with (`GrantType.DeviceCode`). */
  device_code: string;
  /** The code the person types, formatted as shown (`XXXX-XXXX`). */
  user_code: string;
  /** Where the person goes to approve. */
  verification_uri: string;
  /** `verification_uri` with the user code filled in, for a link or a QR code. */
  verification_uri_complete: string;
  /** Seconds until the device code expires. */
  expires_in: number;
  /** Seconds the device waits between polls; `slow_down` adds five. */
  interval: number;
}

/**
 * The introspection endpoint's answer (RFC 7662 §2.2). Anything not usable — unknown, expired, revoked,
 * or not the caller's to see — is `{"active":false}` and nothing more; an active answer says what it
 * describes in `token_type`.
 */
export type IntrospectionResponse =
  | InactiveIntrospection
  | AccessTokenIntrospection
  | RefreshTokenIntrospection
  | ApiKeyIntrospection;

/** The whole answer for anything not usable. */
export interface InactiveIntrospection {
  active: false;
}

/** What introspection says about every active credential. */
interface ActiveIntrospection {
  active: true;
  /** The issuer. */
  iss: string;
  /** The principal: a client id or a user id. */
  sub: string;
  client_id: string;
  /** Space-separated; absent when the credential carries no scope. */
  scope?: string;
  /** Expiry, in seconds since the epoch. */
  exp: number;
  /** Issue time, in seconds since the epoch. */
  iat: number;
}

/** An access token, described to the client it was issued to or a resource server in its `aud`. */
export interface AccessTokenIntrospection extends ActiveIntrospection {
  token_type: 'Bearer' | 'DPoP';
  aud: string | string[];
  jti: string;
  /** The actor of a delegated token (RFC 8693 §4.1). */
  act?: Record<string, unknown>;
  /** The DPoP key the token is bound to (RFC 9449 §6). */
  cnf?: { jkt: string };
}

/** A refresh token, described only to the client holding it; `exp` is the sooner of its two limits. */
export interface RefreshTokenIntrospection extends ActiveIntrospection {
  token_type: 'refresh_token';
}

/**
 * An API key (looking is not a use); `client_id` is the owning client, or the key's id for a person's
 * key.
 */
export interface ApiKeyIntrospection extends ActiveIntrospection {
  token_type: 'api_key';
  api_key_id: string;
}

/**
 * The API-key verification endpoint's answer for a usable key (a verification is a use of the key).
 * Every unusable key is the same 401 `invalid_token`.
 */
export interface ApiKeyVerificationResponse {
  active: true;
  key_id: string;
  name: string;
  /** The owner as the CLI writes it: a client id, or `user:USERNAME`. */
  owner: string;
  owner_type: 'client' | 'user';
  /** The owner's id: the client id or the user id. */
  sub: string;
  /** Present when a client owns the key. */
  client_id?: string;
  /** The key's scopes still within its owner's ceiling, space-separated (possibly empty). */
  scope: string;
  /** Expiry, in seconds since the epoch. */
  expires_at: number;
  /** Uses left after this one, or `null` for a key without a use limit. */
  remaining_uses: number | null;
}

/**
 * The authorization server metadata (RFC 8414 §2), served at `AUTHORIZATION_SERVER_METADATA_PATH` and
 * `OPENID_CONFIGURATION_PATH`, listing exactly
 * what this server supports. Clavis's own endpoints carry `api_key_` names.
 */
export interface AuthorizationServerMetadata {
  issuer: string;
  token_endpoint: string;
  jwks_uri: string;
  introspection_endpoint: string;
  revocation_endpoint: string;
  device_authorization_endpoint: string;
  /** Where API keys are minted. */
  api_key_endpoint: string;
  /** Where resource servers verify API keys ({@link ApiKeyVerificationResponse}). */
  api_key_verification_endpoint: string;
  /** Where leaked API keys are reported, to be revoked. */
  api_key_leak_report_endpoint: string;
  grant_types_supported: GrantType[];
  /** Empty: there is no authorization endpoint. */
  response_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  token_endpoint_auth_signing_alg_values_supported: string[];
  introspection_endpoint_auth_methods_supported: string[];
  introspection_endpoint_auth_signing_alg_values_supported: string[];
  revocation_endpoint_auth_methods_supported: string[];
  revocation_endpoint_auth_signing_alg_values_supported: string[];
  access_token_signing_alg_values_supported: string[];
  /** OpenID Connect Discovery: where a person's access token is exchanged for who they are. */
  userinfo_endpoint: string;
  id_token_signing_alg_values_supported: string[];
  subject_types_supported: string[];
  /** The scopes with a meaning of their own here; a client's own scopes are not listed. */
  scopes_supported: string[];
  claims_supported: string[];
}
