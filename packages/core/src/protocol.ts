/**
 * The protocol vocabulary: every grant type, token type and client assertion type Clavis speaks, and the
 * well-known discovery paths. The server, the CLI and the SDK name them from here, never by spelling
 * the URN again.
 *
 * @example
 * ```ts
 * const body = new URLSearchParams({
 *   grant_type: GrantType.TokenExchange,
 *   subject_token: key,
 *   subject_token_type: TokenType.ApiKey,
 * });
 * ```
 */

/**
 * The token endpoint's `grant_type` values (RFC 6749 §4.4 and §6, RFC 8628 §3.4, RFC 8693 §2.1,
 * RFC 7523 §2.1).
 */
export const GrantType = {
  /** A confidential client's own token (RFC 6749 §4.4). */
  ClientCredentials: 'client_credentials',
  /** A refresh token traded for a new access token, the refresh token rotating (RFC 6749 §6). */
  RefreshToken: 'refresh_token',
  /** The device authorization grant: a device polls while a person approves (RFC 8628). */
  DeviceCode: 'urn:ietf:params:oauth:grant-type:device_code',
  /** Token exchange of a workload token or an API key (RFC 8693). */
  TokenExchange: 'urn:ietf:params:oauth:grant-type:token-exchange',
  /** A workload token presented as a JWT bearer assertion (RFC 7523). */
  JwtBearer: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
} as const;

/** One of the {@link GrantType} wire values. */
export type GrantType = (typeof GrantType)[keyof typeof GrantType];

/**
 * Token type identifiers (RFC 8693 §3): `subject_token_type`, `actor_token_type`,
 * `requested_token_type` and `issued_token_type`.
 */
export const TokenType = {
  /** An OAuth access token; the only type Clavis issues by exchange. */
  AccessToken: 'urn:ietf:params:oauth:token-type:access_token',
  /** A JWT, such as a workload identity token from a CI system or a cloud. */
  Jwt: 'urn:ietf:params:oauth:token-type:jwt',
  /** An OpenID Connect ID token. */
  IdToken: 'urn:ietf:params:oauth:token-type:id_token',
  /** A Clavis API key (`clv_…`), exchanged for a short-lived access token. */
  ApiKey: 'urn:clavis:params:oauth:token-type:api_key',
} as const;

/** One of the {@link TokenType} identifiers. */
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

/** `client_assertion_type` for `private_key_jwt` client authentication (RFC 7523 §2.2). */
export const CLIENT_ASSERTION_TYPE_JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * Where the authorization server metadata (`AuthorizationServerMetadata`) is served, after the issuer
 * (RFC 8414 §3).
 */
export const AUTHORIZATION_SERVER_METADATA_PATH = '/.well-known/oauth-authorization-server';

/** The OpenID Connect Discovery path, which serves the same metadata document. */
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';
