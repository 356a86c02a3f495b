/**
 * The public keys of workload-token issuers: inline (air-gapped setups: no request at all), from a
 * configured `jwks_uri`, or found by OIDC discovery at `${issuer}/.well-known/openid-configuration`
 * (whose `issuer` must equal the configured one).
 *
 * Only the configured source is ever fetched — never a URL from a token's `jku`/`x5u` header (TE-04) —
 * with redirects refused, a timeout and a size cap, and plain http only for loopback hosts. Keys are
 * cached per source for `ttlMs`; an unknown `kid` refetches at most once per `refetchIntervalMs`; a
 * failed fetch keeps the cached keys until their TTL runs out, and leaves the caller without keys (so
 * the signature check fails) rather than skipping anything (F-05).
 */
import type { JSONWebKeySet } from 'jose';
import { checkFetchableUrl, checkJwks, PolicyError } from './policy.js';

export interface KeySource {
  issuer: string;
  /** Inline keys: used as they are, never fetched. */
  jwks: JSONWebKeySet | null;
  /** Where to fetch the keys; null: OIDC discovery at the issuer. */
  jwksUri: string | null;
}

export interface IssuerKeysOptions {
  clock: () => number;
  /** How long fetched keys are used without refetching. Default 1 hour. */
  ttlMs?: number;
  /** The least time between two fetches of one source (unknown `kid`, failures). Default 1 minute. */
  refetchIntervalMs?: number;
  /** Per request. Default 5 s. */
  timeoutMs?: number;
  /** Largest response accepted. Default 512 KiB. */
  maxBytes?: number;
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
  readonly #entries = new Map<string, Entry>();

  constructor(options: IssuerKeysOptions) {
    this.#clock = options.clock;
    this.#ttlMs = options.ttlMs ?? 3_600_000;
    this.#refetchIntervalMs = options.refetchIntervalMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#maxBytes = options.maxBytes ?? 512 * 1024;
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
        () => {
          // Keep serving what is cached within its TTL; the failure is the caller's "no keys".
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
    let target: URL;
    try {
      target = checkFetchableUrl('the key URL', url);
    } catch (err) {
      throw new IssuerKeysUnavailable(err instanceof Error ? err.message : 'bad URL');
    }
    const response = await fetch(target, {
      redirect: 'error',
      signal: AbortSignal.timeout(this.#timeoutMs),
      headers: { accept: 'application/json' },
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new IssuerKeysUnavailable(`HTTP ${response.status} from ${target.host}`);
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > this.#maxBytes) {
      await response.body?.cancel();
      throw new IssuerKeysUnavailable('response too large');
    }
    const text = await readCapped(response, this.#maxBytes);
    return JSON.parse(text) as unknown;
  }
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new IssuerKeysUnavailable('response too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
