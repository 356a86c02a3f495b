/**
 * Server configuration: validated once, with documented defaults, and passed explicitly.
 */
import { isIP } from 'node:net';
import { isHttpsOrLoopback } from './http/loopback.js';
import type { SigningAlg } from './tokens/jws.js';
import { signingAlgs } from './tokens/jws.js';

/** The organisation's logo on the verification pages, as `CLAVIS_ORG_LOGO_FILE` gave it. */
export interface PageLogo {
  contentType: 'image/png' | 'image/svg+xml' | 'image/jpeg' | 'image/webp';
  bytes: Buffer;
}

export interface ServerConfig {
  /** The issuer identifier: an https URL (http only for loopback), no query or fragment, no trailing slash. */
  issuer: string;
  /** Access-token signing algorithm. Default EdDSA. */
  signingAlg: SigningAlg;
  /** How long one signing key signs before the next takes over. Default 30 days. */
  keyRotationIntervalSeconds: number;
  /** Default access-token lifetime for new clients. Default 10 minutes. */
  defaultAccessTokenTtlSeconds: number;
  /** No client may be given a longer access-token lifetime. Default 1 hour. */
  maxAccessTokenTtlSeconds: number;
  /**
   * Client assertions (private_key_jwt): the longest `exp - now` accepted. Default 1 hour (Okta's bound;
   * Authlib signs assertions valid for an hour). Each `jti` is remembered until `exp` plus the skew.
   */
  assertionMaxLifetimeSeconds: number;
  /** Clock skew tolerated for `iat`/`nbf` in the future and `exp` just past. Default 60 s. */
  clockToleranceSeconds: number;
  /**
   * What a client assertion's `aud` may be: the issuer only (FAPI 2.0 / draft-ietf-oauth-rfc7523bis), or
   * also the token endpoint URL, which older clients send. Never an array. Default: both.
   */
  assertionAudience: 'issuer' | 'issuer-or-token-endpoint';
  /** Largest request body accepted, bytes. Default 64 KiB. */
  bodyLimitBytes: number;
  /**
   * Addresses (IPs or CIDRs) of reverse proxies whose `X-Forwarded-For` is believed. Default none: the
   * client address is the socket's peer.
   */
  trustedProxies: string[];
  /** Device authorization requests expire after this. Default 10 minutes (RFC 8628 `expires_in`). */
  deviceCodeTtlSeconds: number;
  /** The polling interval a device is told to keep. Default 5 s. */
  devicePollIntervalSeconds: number;
  /** A refresh token unused this long expires. Default 8 hours (a working day). */
  refreshIdleTtlSeconds: number;
  /** No refresh after this, counted from the approval. Default 24 h (NIST SP 800-63B rev 4, AAL2). */
  refreshAbsoluteTtlSeconds: number;
  /** Browser sessions on the verification pages last this long. Default 15 minutes. */
  sessionTtlSeconds: number;
  /** Each request to an upstream identity provider (discovery, keys, token) must answer within this. Default 5 s. */
  upstreamTimeoutMs: number;
  /**
   * Consecutive failed sign-ins (or second-factor codes) after which an account is locked for a while:
   * one minute, doubling with each further failure, up to an hour. Default 10.
   */
  maxFailedSignIns: number;
  /**
   * Consecutive failures after which the lock is for good, until `users unlock`. Default 100, the bound
   * of NIST SP 800-63B §5.2.2; not below `maxFailedSignIns`.
   */
  signInHardLockAfter: number;
  /** Sign-in attempts (each one scrypt) per minute across all instances and addresses. Default 240. */
  signInAttemptsGlobalPerMinute: number;
  /**
   * Failed client authentications, refused API keys and refused workload tokens per client address
   * (an IPv6 client's /64) per minute, across all instances, before further failures get 429 and are
   * only counted in the audit log. Default 60.
   */
  authFailuresPerAddressPerMinute: number;
  /** Wrong user codes allowed per client IP, and in total across all instances, per minute. */
  userCodeAttemptsPerIpPerMinute: number;
  userCodeAttemptsGlobalPerMinute: number;
  // --- Scoped API keys ---
  /** No API key may live longer than this; every key has an expiry. Default 90 days. */
  apiKeyMaxTtlSeconds: number;
  /** Per-job keys minted with a `keys:mint` token: the longest (and default) lifetime. Default 1 hour. */
  apiKeyMintMaxTtlSeconds: number;
  /** A key unused (and, if never used, created) this long ago is revoked by the idle sweep. Default 30 days. */
  apiKeyIdleRevokeSeconds: number;
  /** Leak reports accepted per reporting IP per minute, across all instances. Default 30. */
  apiKeyLeakReportsPerIpPerMinute: number;
  /** Milliseconds since the epoch. Injected in tests. */
  clock: () => number;
  // --- Verification pages ---
  /** The server's or organisation's name at the top of every page (`CLAVIS_ORG_NAME`). Default "Clavis". */
  organisationName?: string | undefined;
  /** A logo beside it, served by this server (`CLAVIS_ORG_LOGO_FILE`). */
  logo?: PageLogo | undefined;
  /** Words for scopes beyond the built-in ones, shown beside them (`CLAVIS_SCOPE_DESCRIPTIONS_FILE`). */
  scopeDescriptions?: Readonly<Record<string, string>> | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const defaults = {
  signingAlg: 'EdDSA',
  keyRotationIntervalSeconds: 30 * 86_400,
  defaultAccessTokenTtlSeconds: 600,
  maxAccessTokenTtlSeconds: 3600,
  assertionMaxLifetimeSeconds: 3600,
  clockToleranceSeconds: 60,
  assertionAudience: 'issuer-or-token-endpoint',
  bodyLimitBytes: 64 * 1024,
  trustedProxies: [],
  deviceCodeTtlSeconds: 600,
  devicePollIntervalSeconds: 5,
  refreshIdleTtlSeconds: 8 * 3600,
  refreshAbsoluteTtlSeconds: 24 * 3600,
  sessionTtlSeconds: 900,
  upstreamTimeoutMs: 5000,
  maxFailedSignIns: 10,
  signInHardLockAfter: 100,
  signInAttemptsGlobalPerMinute: 240,
  authFailuresPerAddressPerMinute: 60,
  userCodeAttemptsPerIpPerMinute: 5,
  userCodeAttemptsGlobalPerMinute: 600,
  apiKeyMaxTtlSeconds: 90 * 86_400,
  apiKeyMintMaxTtlSeconds: 3600,
  apiKeyIdleRevokeSeconds: 30 * 86_400,
  apiKeyLeakReportsPerIpPerMinute: 30,
} as const satisfies Partial<ServerConfig>;

function normaliseIssuer(issuer: string): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError(`issuer "${issuer}" is not a URL`);
  }
  if (!isHttpsOrLoopback(url)) {
    throw new ConfigError('the issuer must be an https URL (http is allowed only on loopback)');
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError('the issuer must not have a query, fragment or credentials');
  }
  return url.toString().replace(/\/$/, '');
}

/** Fills defaults and checks every value; throws `ConfigError` naming the first bad one. */
export function resolveConfig(input: Partial<ServerConfig> & { issuer: string }): ServerConfig {
  const config: ServerConfig = {
    ...defaults,
    trustedProxies: [...defaults.trustedProxies],
    clock: Date.now,
    ...input,
    issuer: normaliseIssuer(input.issuer),
  };
  if (!signingAlgs.includes(config.signingAlg)) {
    throw new ConfigError(`signing algorithm must be one of ${signingAlgs.join(', ')}`);
  }
  const positive: Array<keyof ServerConfig> = [
    'keyRotationIntervalSeconds',
    'defaultAccessTokenTtlSeconds',
    'maxAccessTokenTtlSeconds',
    'assertionMaxLifetimeSeconds',
    'bodyLimitBytes',
    'deviceCodeTtlSeconds',
    'devicePollIntervalSeconds',
    'refreshIdleTtlSeconds',
    'refreshAbsoluteTtlSeconds',
    'sessionTtlSeconds',
    'upstreamTimeoutMs',
    'maxFailedSignIns',
    'signInHardLockAfter',
    'signInAttemptsGlobalPerMinute',
    'authFailuresPerAddressPerMinute',
    'userCodeAttemptsPerIpPerMinute',
    'userCodeAttemptsGlobalPerMinute',
    'apiKeyMaxTtlSeconds',
    'apiKeyMintMaxTtlSeconds',
    'apiKeyIdleRevokeSeconds',
    'apiKeyLeakReportsPerIpPerMinute',
  ];
  for (const key of positive) {
    const v = config[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new ConfigError(`${key} must be a positive integer`);
  }
  if (config.assertionAudience !== 'issuer' && config.assertionAudience !== 'issuer-or-token-endpoint') {
    throw new ConfigError("assertionAudience must be 'issuer' or 'issuer-or-token-endpoint'");
  }
  if (config.signInHardLockAfter < config.maxFailedSignIns) {
    throw new ConfigError('the hard lock must not come before the first temporary lock');
  }
  if (config.defaultAccessTokenTtlSeconds > config.maxAccessTokenTtlSeconds) {
    throw new ConfigError('the default access-token lifetime exceeds the maximum');
  }
  // API-key address allow-lists are only as good as the address behind them (AK-01).
  for (const proxy of config.trustedProxies) {
    const [address = '', prefix, extra] = proxy.split('/');
    const bits = isIP(address) === 4 ? 32 : isIP(address) === 6 ? 128 : 0;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (bits === 0 || address.includes('%') || !prefixOk || extra !== undefined)
      throw new ConfigError(`trusted proxy "${proxy.slice(0, 64)}" is not an IP address or CIDR`);
  }
  checkPageBranding(config);
  if (config.apiKeyMintMaxTtlSeconds > config.apiKeyMaxTtlSeconds) {
    throw new ConfigError('the per-job API key lifetime exceeds the API key maximum');
  }
  return config;
}

/** The pages' name, logo and scope words: bounded, so a page stays a page. */
function checkPageBranding(config: ServerConfig): void {
  const name = config.organisationName;
  if (
    name !== undefined &&
    (name.trim().length === 0 || name.length > 80 || [...name].some((ch) => ch.charCodeAt(0) < 0x20))
  )
    throw new ConfigError('the organisation name must be 1 to 80 printable characters');
  if (config.logo && (config.logo.bytes.length === 0 || config.logo.bytes.length > 64 * 1024))
    throw new ConfigError('the logo must be a non-empty image of at most 64 KiB');
  for (const [scope, words] of Object.entries(config.scopeDescriptions ?? {})) {
    if (typeof words !== 'string' || words.length === 0 || words.length > 200)
      throw new ConfigError(`the description of scope "${scope.slice(0, 64)}" must be 1 to 200 characters`);
  }
}

/** The token endpoint URL, derived from the issuer. */
export function endpointUrl(config: Pick<ServerConfig, 'issuer'>, path: string): string {
  return `${config.issuer}${path}`;
}

export const paths = {
  token: '/oauth/token',
  deviceAuthorization: '/oauth/device_authorization',
  device: '/device',
  introspection: '/oauth/introspect',
  revocation: '/oauth/revoke',
  jwks: '/.well-known/jwks.json',
  apiKeys: '/oauth/api-keys',
  apiKeyVerification: '/oauth/api-keys/verify',
  apiKeyLeaks: '/oauth/api-keys/leaks',
  userinfo: '/oauth/userinfo',
} as const;
