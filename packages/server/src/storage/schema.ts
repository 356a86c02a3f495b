/**
 * The database schema as Kysely types: one definition for SQLite and PostgreSQL. Times are integer
 * milliseconds since the epoch; lists are JSON text; flags are 0/1 integers, so both dialects store the
 * same values.
 */
import type { Generated, Insertable, Selectable } from 'kysely';

export interface ClientsTable {
  id: string;
  name: string;
  owner: string | null;
  kind: 'public' | 'confidential';
  auth_method: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** JSON array of grant type strings. */
  grant_types: string;
  /** JSON array: the scope ceiling. */
  scopes: string;
  /** JSON array: resource identifiers the client may ask tokens for (first = default). */
  audiences: string;
  /** JSON JWKS for private_key_jwt, or null. */
  jwks: string | null;
  jwks_uri: string | null;
  /** Access-token lifetime, seconds. */
  token_ttl: number;
  created_at: number;
  created_by: string | null;
  disabled_at: number | null;
  /** 1: a person may approve this client's device requests only after a second factor. */
  require_mfa: Generated<number>;
  /** Refresh-token lifetimes, seconds (null: server defaults). */
  refresh_idle_ttl: number | null;
  refresh_absolute_ttl: number | null;
}

export interface ClientSecretsTable {
  id: string;
  client_id: string;
  /** base64url HMAC-SHA-256 of the secret under the server's secret-hashing key. */
  hash: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string | null;
  is_admin: number;
  must_change_password: number;
  totp_secret: string | null;
  created_at: number;
  disabled_at: number | null;
  /** Consecutive failed sign-ins and second-factor attempts; reset on success. */
  failed_logins: Generated<number>;
  failed_mfa: Generated<number>;
  /** The hard lock at the failure bound: only an administrator lifts it (`users unlock`). */
  locked_at: number | null;
  /** A temporary lock after consecutive failures ends at this time (ms); growing with each failure. */
  locked_until?: number | null;
  /** The last TOTP time step accepted: each code works once (RFC 6238, NIST SP 800-63B). */
  totp_last_step: number | null;
  /** JSON array: the scope ceiling of the person's API keys; null = none set (the admin decides). */
  scopes?: string | null;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  /** Rotation slot: floor(activation time / rotation interval); unique per algorithm. */
  slot: number;
  public_jwk: string;
  /** AES-256-GCM sealed PKCS#8 private key. */
  private_key: string;
  activates_at: number;
  retires_at: number;
  /** After this no token it signed can still be valid; the key leaves the JWKS. */
  expires_at: number;
  created_at: number;
}

export interface RevokedTokensTable {
  jti: string;
  client_id: string;
  revoked_at: number;
  /** When the token would have expired anyway; the row may be purged after it. */
  expires_at: number;
}

export interface ReplayGuardTable {
  /** `<namespace>:<issuer or client>:<jti>` */
  key: string;
  expires_at: number;
}

export interface RateLimitsTable {
  key: string;
  window_start: number;
  count: number;
}

export interface AuditSegmentsTable {
  id: string;
  /** Free-form description of the writer: `serve@host:pid`, `cli@host:pid`. */
  writer: string;
  started_at: number;
  /** The writer's lease (ms): renewed while it lives; once it lapses, `serve` seals the segment's head. */
  alive_until: number | null;
}

export interface AuditEventsTable {
  segment: string;
  seq: number;
  at: number;
  event: string;
  outcome: 'success' | 'failure';
  actor_type: string;
  actor_id: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  /** JSON object with event-specific fields; never a secret. */
  detail: string;
  prev_hash: string;
  hash: string;
}

export interface AuditSealsTable {
  seq: number;
  at: number;
  segment: string;
  segment_seq: number;
  segment_hash: string;
  prev_hash: string;
  hash: string;
  /** Ed25519 signature by the server's audit key (base64url); null for a seal an admin command wrote. */
  signature: string | null;
}

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'consumed';

export interface DeviceCodesTable {
  id: string;
  device_code_hash: string;
  /**
   * The normalised code (8 characters of BCDFGHJKLMNPQRSTVWXZ, no dash) as stored: `uc1.` + one AES block
   * under a key derived from the cookie-signing key (device/user_code_at_rest.ts), never the code itself.
   */
  user_code: string;
  client_id: string;
  scopes: string;
  status: DeviceCodeStatus;
  /** Seconds between polls; grows by 5 on each slow_down. */
  interval: number;
  last_polled_at: number | null;
  created_at: number;
  expires_at: number;
  requester_ip: string | null;
  requester_user_agent: string | null;
  /** The browser session that entered the code first; only it may decide (RFC 8628 §5.5). */
  claimed_by_session: string | null;
  user_id: string | null;
  decided_at: number | null;
  consumed_at: number | null;
  family_id: string | null;
  /** When the approving person signed in (ms); null before approval or when unknown. */
  auth_time: number | null;
  /** JSON array of RFC 8176 methods the approving person passed (`pwd`, `otp`, `mfa`). */
  amr: string | null;
}

export interface SessionsTable {
  /** A keyed hash (cookie-signing key) of the random token the session's cookie carries, never the token. */
  id: string;
  /** Empty: a form's CSRF token is derived from the cookie's token (pages/page_http.ts), never stored. */
  csrf_token: string;
  user_id: string | null;
  password_at: number | null;
  mfa_at: number | null;
  created_at: number;
  expires_at: number;
  /** The identity provider the person signed in through; null for a local password. */
  idp_id?: string | null;
  /** JSON array: the RFC 8176 methods the sign-in asserted (upstream); null: a local password. */
  sign_in_amr?: string | null;
  /** Which second factor `mfa_at` records: `otp` (TOTP), `recovery_code`, `hwk` or `swk` (WebAuthn). */
  mfa_method?: string | null;
  /** The one pending WebAuthn challenge (base64url), spent by the ceremony that answers it. */
  webauthn_challenge?: string | null;
}

/** A passkey or security key (WebAuthn credential) a person signs in with as the second factor. */
export interface WebauthnCredentialsTable {
  /** The credential id, base64url. */
  id: string;
  user_id: string;
  /** The COSE public key, base64url. */
  public_key: string;
  /** The signature counter last seen (0 for authenticators that keep none). */
  counter: number;
  /** JSON array of the transports the authenticator reported (`usb`, `internal`, `hybrid`…). */
  transports: string;
  /** `singleDevice` (bound to one authenticator) or `multiDevice` (a synced passkey). */
  device_type: string;
  /** What the person called it. */
  name: string;
  created_at: number;
  last_used_at: number | null;
  /** Set when the credential may no longer be used (a counter that went back: a likely clone). */
  disabled_at: number | null;
  disabled_reason: string | null;
}

export interface AdminUpdateLocksTable {
  resource: string;
  expires_at: number;
}

export interface IdempotencyKeysTable {
  caller: string;
  key: string;
  /** HMAC of the canonical request (method, path, body): a body may carry a password or secret. */
  request_hash: string;
  status: number | null;
  response: string | null;
  created_at: number;
  expires_at: number;
}

export interface TokenFamiliesTable {
  id: string;
  client_id: string;
  user_id: string;
  scopes: string;
  created_at: number;
  /** Absolute end of the family: no refresh after it. */
  expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  /** Copied from the approved device request: when the person signed in (ms), and how (JSON array). */
  auth_time?: number | null;
  amr?: string | null;
}

export interface RefreshTokensTable {
  id: string;
  token_hash: string;
  family_id: string;
  created_at: number;
  idle_expires_at: number;
  rotated_at: number | null;
}

export interface FamilyAccessTokensTable {
  jti: string;
  family_id: string;
  expires_at: number;
}

export interface RecoveryCodesTable {
  hash: string;
  user_id: string;
  used_at: number | null;
}

export type ApiKeyOwnerType = 'client' | 'user';

export interface ApiKeysTable {
  /** `key_…`: public, printed, used to administer the key. */
  id: string;
  /** base64url HMAC-SHA-256 of the whole key under the server's secret-hashing key. */
  key_hash: string;
  owner_type: ApiKeyOwnerType;
  /** A client id, or a user id (`usr_…`). */
  owner_id: string;
  name: string;
  /** JSON array of scopes. */
  scopes: string;
  created_at: number;
  /** Mandatory: a key without expiry cannot exist. */
  expires_at: number;
  /** JSON array of CIDRs the key may be used from, or null for anywhere. */
  cidrs: string | null;
  /** Null: unlimited. */
  max_uses: number | null;
  uses: Generated<number>;
  /** Requests per minute, across all instances; null: no per-key limit. */
  rate_limit: number | null;
  created_by: string | null;
  created_from: string | null;
  last_used_at: number | null;
  last_used_ip: string | null;
  revoked_at: number | null;
  /** 'admin' | 'leaked' | 'idle' | 'rotated'. */
  revoked_reason: string | null;
  predecessor_id: string | null;
  successor_id: string | null;
  /** For a per-job key: the `jti` of the access token that minted it. */
  minted_by_jti: string | null;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface FederationsTable {
  /** `fed_` + random. */
  id: string;
  name: string;
  /** The service principal (a confidential client) tokens are issued to. */
  client_id: string;
  /** The workload token issuer (`iss`), exact. */
  issuer: string;
  /** The `aud` the workload token must carry. */
  audience: string;
  /** JSON array of {claim, pattern}: every one must match. */
  conditions: string;
  /** Inline JWKS JSON (air-gapped), or null. */
  jwks: string | null;
  /** The issuer's JWKS URL, or null (then OIDC discovery at the issuer). */
  jwks_uri: string | null;
  /** JSON array: the scope ceiling, within the client's. */
  scopes: string;
  /** Longest access-token lifetime, seconds. */
  max_ttl: number;
  preset: string | null;
  created_at: number;
  created_by: string | null;
  disabled_at: number | null;
}

export interface IdentityProvidersTable {
  /** `idp_` + random. */
  id: string;
  name: string;
  issuer: string;
  client_id: string;
  /** AES-256-GCM sealed under a KEK-derived key, bound to the provider id. */
  client_secret: string;
  /** Space-separated; always includes `openid`. */
  scopes: string;
  claim_username: string;
  claim_email: string;
  claim_groups: string;
  /** JSON array: a person must be in one of these upstream groups; null = anyone the provider signs in. */
  allowed_groups: string | null;
  /** 1: an `amr` of the provider naming a second factor satisfies a client that requires MFA. */
  mfa_from_amr: number;
  /** JSON array of `acr` values that satisfy MFA as well. */
  mfa_acr_values: string;
  /** 1: local passwords remain offered beside this provider. */
  local_passwords: number;
  /** Refresh families of people linked to this provider end this long after their sign-in. */
  session_lifetime_seconds: number;
  created_at: number;
  updated_at: number;
}

export interface IdentityLinksTable {
  issuer: string;
  subject: string;
  idp_id: string;
  user_id: string;
  created_at: number;
  last_sign_in_at: number | null;
}

export interface UpstreamLoginsTable {
  /** HMAC-SHA-256 (cookie-signing key) of the `state` sent upstream, base64url; never the state itself. */
  id: string;
  /** The browser session that started the sign-in: only it may finish it. */
  session_id: string;
  /** The device request the session was deciding when it left. */
  device_code_id: string | null;
  idp_id: string;
  created_at: number;
  expires_at: number;
}

export interface Database {
  clients: ClientsTable;
  client_secrets: ClientSecretsTable;
  users: UsersTable;
  signing_keys: SigningKeysTable;
  revoked_tokens: RevokedTokensTable;
  replay_guard: ReplayGuardTable;
  rate_limits: RateLimitsTable;
  audit_segments: AuditSegmentsTable;
  audit_events: AuditEventsTable;
  audit_seals: AuditSealsTable;
  settings: SettingsTable;
  device_codes: DeviceCodesTable;
  sessions: SessionsTable;
  token_families: TokenFamiliesTable;
  idempotency_keys: IdempotencyKeysTable;
  admin_update_locks: AdminUpdateLocksTable;
  refresh_tokens: RefreshTokensTable;
  family_access_tokens: FamilyAccessTokensTable;
  recovery_codes: RecoveryCodesTable;
  federations: FederationsTable;
  api_keys: ApiKeysTable;
  identity_providers: IdentityProvidersTable;
  identity_links: IdentityLinksTable;
  upstream_logins: UpstreamLoginsTable;
  webauthn_credentials: WebauthnCredentialsTable;
}

export type ClientRow = Selectable<ClientsTable>;
export type NewClientRow = Insertable<ClientsTable>;
export type ClientSecretRow = Selectable<ClientSecretsTable>;
export type UserRow = Selectable<UsersTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type DeviceCodeRow = Selectable<DeviceCodesTable>;
export type SessionRow = Selectable<SessionsTable>;
export type WebauthnCredentialRow = Selectable<WebauthnCredentialsTable>;
export type FederationRow = Selectable<FederationsTable>;
export type IdentityProviderRow = Selectable<IdentityProvidersTable>;
export type IdentityLinkRow = Selectable<IdentityLinksTable>;
