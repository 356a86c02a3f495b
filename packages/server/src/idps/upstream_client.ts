/**
 * The OpenID Connect client Clavis is at an upstream provider, through `openid-client`: authorization
 * code flow with PKCE (S256), `state` and `nonce`; the library checks the ID token's claims (`iss`,
 * `aud`, `exp`, `nonce`) and refuses `alg: none`. It does not check the signature of an ID token that
 * came straight from the token endpoint (OIDC Core §3.1.3.7 allows relying on TLS there); Clavis checks
 * it anyway, with the provider's published keys from the same key cache the federations use
 * (federation/issuer_keys.ts: fetched at most every few seconds for an unknown `kid`, kept for an hour,
 * through the capped fetcher). A provider that rotated its keys is followed at the first token signed
 * with the new key, once the last fetch is a few seconds old.
 *
 * Every request — discovery, the provider's keys, the token endpoint — goes through the server's capped
 * fetcher (`http/outbound_fetch.ts`: https or loopback only, redirects refused, one deadline, a size
 * cap). The discovered configuration (and with it the provider's keys, which the library caches and
 * refetches for an unknown `kid` once its copy is a minute old) is kept per provider for an hour, and
 * dropped on any failure, so the next sign-in discovers afresh: that is how a provider whose keys rotated
 * recovers at once. The client secret is opened from its sealed form only here, when a configuration is
 * made.
 */
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { type IssuerKeys, IssuerKeysUnavailable } from '../federation/issuer_keys.js';
import { cappedFetch, OutboundFetchError } from '../http/outbound_fetch.js';
import type { IdentityProviderRow } from '../storage/schema.js';
import { openIdpSecret } from './idp_secret.js';
import { deriveLoginSecrets } from './upstream_logins.js';

/** Why an upstream sign-in failed, as recorded in the audit log. */
export type UpstreamFailure =
  | 'upstream_unavailable'
  | 'upstream_refused'
  | 'code_rejected'
  | 'id_token_invalid'
  | 'keys_unknown'
  | 'bad_response';

export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly reason: UpstreamFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Who the provider says signed in: its ID token's claims, checked. */
export interface UpstreamIdentity {
  issuer: string;
  subject: string;
  claims: Record<string, unknown>;
  amr: string[];
  acr: string | undefined;
}

export interface UpstreamClientsOptions {
  /** Opens the sealed client secrets: the current KEK's `idp-sealing` key first. */
  secretKeys: readonly Buffer[];
  /** Derives each sign-in's nonce and PKCE verifier from its state. */
  loginKey: Buffer;
  /** The providers' published keys, cached (the federations' key cache, an instance of its own). */
  issuerKeys: IssuerKeys;
  /** Per request to the provider. Default 5 s. */
  timeoutMs?: number;
  /** Largest answer accepted. Default 512 KiB. */
  maxBytes?: number;
  /** How long a discovered configuration is used. Default 1 hour. */
  configTtlMs?: number;
  /** A monotonic-enough clock for the cache (ms). */
  clock: () => number;
}

interface Cached {
  version: number;
  at: number;
  config: Promise<oidc.Configuration>;
}

const loopbackHttp = (issuer: string) => issuer.startsWith('http:');

export class UpstreamClients {
  readonly #options: UpstreamClientsOptions;
  readonly #cache = new Map<string, Cached>();

  constructor(options: UpstreamClientsOptions) {
    this.#options = options;
  }

  /** Where to send the browser: the provider's authorization endpoint with this sign-in's parameters. */
  async authorizationUrl(
    idp: IdentityProviderRow,
    input: { state: string; redirectUri: string },
  ): Promise<URL> {
    const config = await this.#configuration(idp);
    const { nonce, codeVerifier } = deriveLoginSecrets(this.#options.loginKey, input.state);
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: input.redirectUri,
      scope: idp.scopes,
      response_type: 'code',
      state: input.state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  /**
   * Finishes a sign-in from the callback URL the browser brought back: redeems the code (with the PKCE
   * verifier) and checks the ID token, its nonce included. Throws `UpstreamError`.
   */
  async finish(
    idp: IdentityProviderRow,
    input: { callbackUrl: URL; state: string; redirectUri: string },
  ): Promise<UpstreamIdentity> {
    const { nonce, codeVerifier } = deriveLoginSecrets(this.#options.loginKey, input.state);
    try {
      const config = await this.#configuration(idp);
      // The library compares redirect_uri with the URL it is given: the callback as registered.
      const current = new URL(input.redirectUri);
      current.search = input.callbackUrl.search;
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        expectedState: input.state,
        expectedNonce: nonce,
        pkceCodeVerifier: codeVerifier,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims || !tokens.id_token)
        throw new UpstreamError('bad_response', 'the provider sent no ID token');
      await this.#verifySignature(idp, config, tokens.id_token);
      // Claims the mapping names but the ID token lacks (providers that keep them for userinfo) are
      // asked of userinfo, for the same subject; the ID token's own claims win.
      const wanted = [idp.claim_username, idp.claim_email, idp.claim_groups];
      let extra: Record<string, unknown> = {};
      if (wanted.some((c) => !(c in claims)) && config.serverMetadata().userinfo_endpoint) {
        extra = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)) };
      }
      const amr = Array.isArray(claims.amr)
        ? claims.amr.filter((v): v is string => typeof v === 'string')
        : [];
      return {
        issuer: claims.iss,
        subject: claims.sub,
        claims: { ...extra, ...claims },
        amr,
        acr: typeof claims.acr === 'string' ? claims.acr : undefined,
      };
    } catch (err) {
      // Whatever went wrong, the next sign-in discovers afresh (new keys, a provider back up).
      this.forget(idp.id);
      throw classify(err);
    }
  }

  /** The ID token's signature, with a key the provider publishes; its `iss` and `aud` once more. */
  async #verifySignature(
    idp: IdentityProviderRow,
    config: oidc.Configuration,
    idToken: string,
  ): Promise<void> {
    const jwksUri = config.serverMetadata().jwks_uri;
    if (!jwksUri) throw new UpstreamError('bad_response', 'the provider publishes no keys (jwks_uri)');
    const { kid } = decodeProtectedHeader(idToken);
    let keys: Awaited<ReturnType<IssuerKeys['keysFor']>>;
    try {
      keys = await this.#options.issuerKeys.keysFor({ issuer: idp.issuer, jwks: null, jwksUri }, kid);
    } catch (err) {
      if (err instanceof IssuerKeysUnavailable) {
        throw new UpstreamError('upstream_unavailable', 'the provider’s keys could not be fetched', {
          cause: err,
        });
      }
      throw err;
    }
    try {
      await jwtVerify(idToken, createLocalJWKSet(keys), {
        issuer: idp.issuer,
        audience: idp.client_id,
        algorithms: [
          'RS256',
          'RS384',
          'RS512',
          'PS256',
          'PS384',
          'PS512',
          'ES256',
          'ES384',
          'ES512',
          'EdDSA',
        ],
        clockTolerance: 60,
      });
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey) {
        throw new UpstreamError(
          'keys_unknown',
          'the ID token is signed with a key the provider does not publish',
          {
            cause: err,
          },
        );
      }
      throw new UpstreamError('id_token_invalid', 'the ID token signature did not verify', { cause: err });
    }
  }

  /** Drops the cached configuration of provider `idpId` (changed, deleted, or failing). */
  forget(idpId: string): void {
    this.#cache.delete(idpId);
  }

  #configuration(idp: IdentityProviderRow): Promise<oidc.Configuration> {
    const now = this.#options.clock();
    const version = Number(idp.updated_at);
    const cached = this.#cache.get(idp.id);
    if (cached && cached.version === version && now < cached.at + (this.#options.configTtlMs ?? 3_600_000)) {
      return cached.config;
    }
    const config = this.#discover(idp).catch((err: unknown) => {
      if (this.#cache.get(idp.id)?.config === config) this.#cache.delete(idp.id);
      throw classify(err);
    });
    this.#cache.set(idp.id, { version, at: now, config });
    return config;
  }

  async #discover(idp: IdentityProviderRow): Promise<oidc.Configuration> {
    const secret = openIdpSecret(this.#options.secretKeys, idp.id, idp.client_secret);
    const fetcher: oidc.CustomFetch = (url, init) =>
      cappedFetch(url, init, {
        timeoutMs: this.#options.timeoutMs ?? 5_000,
        maxBytes: this.#options.maxBytes ?? 512 * 1024,
      });
    return oidc.discovery(
      new URL(idp.issuer),
      idp.client_id,
      { client_secret: secret },
      oidc.ClientSecretPost(secret),
      {
        [oidc.customFetch]: fetcher,
        // Plain http only reaches this far for a loopback issuer (the fetcher refuses any other).
        ...(loopbackHttp(idp.issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
        timeout: Math.ceil((this.#options.timeoutMs ?? 5_000) / 1000),
      },
    );
  }
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = err;
  while (current !== undefined && current !== null && chain.length < 8) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** Turns whatever the library or the fetcher threw into an `UpstreamError` with a reason for the audit. */
export function classify(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const chain = causes(err);
  const fetchError = chain.find((e): e is OutboundFetchError => e instanceof OutboundFetchError);
  if (fetchError) return new UpstreamError('upstream_unavailable', fetchError.message, { cause: err });
  if (
    chain.some(
      (e) => (e instanceof Error && e.name === 'TimeoutError') || (e as Error)?.name === 'AbortError',
    )
  )
    return new UpstreamError('upstream_unavailable', 'the provider did not answer in time', { cause: err });
  if (err instanceof oidc.AuthorizationResponseError)
    return new UpstreamError('upstream_refused', `the provider refused: ${err.error}`, { cause: err });
  if (err instanceof oidc.ResponseBodyError)
    return new UpstreamError('code_rejected', `the provider refused the code: ${err.error}`, { cause: err });
  const codes = chain
    .map((e) => (e as { code?: unknown })?.code)
    .filter((c): c is string => typeof c === 'string');
  if (codes.includes('OAUTH_KEY_SELECTION_FAILED'))
    return new UpstreamError(
      'keys_unknown',
      'the ID token is signed with a key the provider does not publish',
      {
        cause: err,
      },
    );
  const tokenChecks = [
    'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
    'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
    'OAUTH_JWS_SIGNATURE_VERIFICATION_FAILED',
    'OAUTH_UNSUPPORTED_OPERATION',
    'OAUTH_INVALID_RESPONSE',
  ];
  if (
    codes.some((c) => tokenChecks.includes(c)) ||
    (err instanceof Error && /signature|JWS|JWT/i.test(err.message))
  )
    return new UpstreamError('id_token_invalid', 'the ID token did not pass its checks', { cause: err });
  return new UpstreamError('bad_response', 'the provider gave an answer that cannot be used', { cause: err });
}
