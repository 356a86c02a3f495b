/**
 * The public keys of workload-token issuers: inline (air-gapped setups: no request at all), from a
 * configured `jwks_uri`, or found by OIDC discovery at `${issuer}/.well-known/openid-configuration`
 * (whose `issuer` must equal the configured one).
 *
 * Only the configured source is ever fetched — never a URL from a token's `jku`/`x5u` header (TE-04) —
 * through the server's capped fetcher (`http/outbound_fetch.ts`: redirects refused, a timeout, a size
 * cap, plain http only for loopback hosts). A `jwks_uri` found by discovery must be on the issuer's own
 * origin (scheme, host and port), or it is not requested at all: an issuer (or whoever controls its
 * discovery document) cannot point the server at another host; an operator whose issuer publishes its
 * keys elsewhere pins that URL in the federation (`--jwks-uri`). Keys are
 * cached per source for `ttlMs`; an unknown `kid` refetches at most once per `refetchIntervalMs`; a
 * failed fetch keeps the cached keys until their TTL runs out, and leaves the caller without keys (so
 * the signature check fails) rather than skipping anything (F-05).
 */
import type { JSONWebKeySet } from 'jose';
import { fetchJson, OutboundFetchError } from '../http/outbound_fetch.js';
import { checkJwks, PolicyError } from './policy.js';

export interface KeySource {
  issuer: string;
  /** Inline keys: used as they are, never fetched. */
  jwks: JSONWebKeySet | null;
  /** Where to fetch the keys; null: OIDC discovery at the issuer. */
  jwksUri: string | null;
}

interface IssuerKeysOptions {
  clock: () => number;
  /** How long fetched keys are used without refetching. Default 1 hour. */
  ttlMs?: number;
  /** The least time between two fetches of one source (unknown `kid`, failures). Default 1 minute. */
  refetchIntervalMs?: number;
  /** Per request. Default 5 s. */
  timeoutMs?: number;
  /** Largest response accepted. Default 512 KiB. */
  maxBytes?: number;
  /** Told why a fetch gave no keys (for the operator's log; the caller only sees "unavailable"). */
  onFetchFailure?: (issuer: string, error: Error) => void;
}

/** The keys could not be fetched (and none are cached). The message is safe to log; never to clients. */
export class IssuerKeysUnavailable extends Error {
  override name = 'IssuerKeysUnavailable';
}

interface Entry {
  keys: JSONWebKeySet | null;
  fetchedAt: number;
  lastAttemptAt: number;
  inflight: Promise<void> | null;
}

export class IssuerKeys {
  readonly #clock: () => number;
  readonly #ttlMs: number;
  readonly #refetchIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #onFetchFailure: ((issuer: string, error: Error) => void) | undefined;
  readonly #entries = new Map<string, Entry>();

  constructor(options: IssuerKeysOptions) {
    this.#clock = options.clock;
    this.#ttlMs = options.ttlMs ?? 3_600_000;
    this.#refetchIntervalMs = options.refetchIntervalMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#maxBytes = options.maxBytes ?? 512 * 1024;
    this.#onFetchFailure = options.onFetchFailure;
  }

  /**
   * The keys to verify a token of `source` whose header names `kid`. Fetches when nothing usable is
   * cached, or when `kid` is not among the cached keys and the last fetch is older than the refetch
   * interval. Throws `IssuerKeysUnavailable` when there are no keys to use.
   */
  async keysFor(source: KeySource, kid: string | undefined): Promise<JSONWebKeySet> {
    if (source.jwks) return source.jwks;
    const id = `${source.issuer}\n${source.jwksUri ?? ''}`;
    let entry = this.#entries.get(id);
    if (!entry) {
      entry = { keys: null, fetchedAt: 0, lastAttemptAt: Number.NEGATIVE_INFINITY, inflight: null };
      this.#entries.set(id, entry);
    }
    const now = this.#clock();
    const fresh = entry.keys !== null && now < entry.fetchedAt + this.#ttlMs;
    const knowsKid = kid === undefined || (entry.keys?.keys.some((k) => k.kid === kid) ?? false);
    const mayFetch = now >= entry.lastAttemptAt + this.#refetchIntervalMs;
    if ((!fresh || !knowsKid) && (mayFetch || entry.inflight)) await this.#refresh(entry, source);

    const after = this.#clock();
    if (entry.keys !== null && after < entry.fetchedAt + this.#ttlMs) return entry.keys;
    throw new IssuerKeysUnavailable(`no keys for issuer ${source.issuer.slice(0, 200)}`);
  }

  /** One fetch per source at a time: concurrent callers wait for the same one. */
  #refresh(entry: Entry, source: KeySource): Promise<void> {
    if (entry.inflight) return entry.inflight;
    entry.lastAttemptAt = this.#clock();
    entry.inflight = this.#fetchKeys(source)
      .then(
        (keys) => {
          entry.keys = keys;
          entry.fetchedAt = this.#clock();
        },
        (err: unknown) => {
          // Keep serving what is cached within its TTL; the failure is the caller's "no keys".
          this.#onFetchFailure?.(source.issuer, err instanceof Error ? err : new Error(String(err)));
        },
      )
      .finally(() => {
        entry.inflight = null;
      });
    return entry.inflight;
  }

  async #fetchKeys(source: KeySource): Promise<JSONWebKeySet> {
    let jwksUri = source.jwksUri;
    if (jwksUri === null) {
      const discovery = await this.#getJson(
        `${source.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
      );
      if (typeof discovery !== 'object' || discovery === null)
        throw new IssuerKeysUnavailable('bad discovery');
      const metadata = discovery as { issuer?: unknown; jwks_uri?: unknown };
      if (metadata.issuer !== source.issuer)
        throw new IssuerKeysUnavailable('discovery names another issuer');
      if (typeof metadata.jwks_uri !== 'string') throw new IssuerKeysUnavailable('discovery has no jwks_uri');
      if (!sameOrigin(metadata.jwks_uri, source.issuer)) {
        throw new IssuerKeysUnavailable(
          `discovery names a jwks_uri on another origin than the issuer ${source.issuer.slice(0, 200)}; pin the key URL in the federation if it is right`,
        );
      }
      jwksUri = metadata.jwks_uri;
    }
    const jwks = await this.#getJson(jwksUri);
    try {
      return await checkJwks(jwks);
    } catch (err) {
      if (err instanceof PolicyError) throw new IssuerKeysUnavailable(`unusable JWKS: ${err.message}`);
      throw err;
    }
  }

  async #getJson(url: string): Promise<unknown> {
    try {
      return await fetchJson(url, { timeoutMs: this.#timeoutMs, maxBytes: this.#maxBytes });
    } catch (err) {
      if (err instanceof OutboundFetchError) throw new IssuerKeysUnavailable(err.message, { cause: err });
      throw err;
    }
  }
}

/** Same scheme, host and port (`URL.origin` leaves a default port out, so `:443` and none are equal). */
function sameOrigin(url: string, issuer: string): boolean {
  try {
    const origin = new URL(url).origin;
    return origin !== 'null' && origin === new URL(issuer).origin;
  } catch {
    return false;
  }
}
