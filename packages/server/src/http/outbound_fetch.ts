/**
 * The one way the server fetches a URL: the keys of a workload-token issuer (its discovery document and
 * JWKS) and the JWKS behind a client's `jwks_uri`. Every such URL is one an administrator configured, or
 * one derived from it and checked by the caller, and the answer is small JSON, so the fetch is narrow:
 *
 * - https only; plain http only to a loopback host (`localhost`, `127.x.x.x`, `[::1]`), for local issuers
 *   and tests. No credentials in the URL;
 * - redirects are refused, not followed (a redirect could lead anywhere the rules above forbid);
 * - one deadline for the whole exchange, body included (default 5 s);
 * - the body is read up to a cap (default 512 KiB) and the rest never downloaded;
 * - only `200` with a JSON body is an answer.
 */

import { isHttpsOrLoopback } from './loopback.js';

type OutboundFetchErrorCode =
  | 'bad_url'
  | 'redirect'
  | 'status'
  | 'too_large'
  | 'timeout'
  | 'network'
  | 'not_json';

/** A fetch that gave no usable answer. The message names the host, never the URL's path or query. */
export class OutboundFetchError extends Error {
  override name = 'OutboundFetchError';
  constructor(
    readonly code: OutboundFetchErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface FetchJsonOptions {
  /** The deadline for the whole exchange. Default 5 s. */
  timeoutMs?: number;
  /** The largest body accepted, in bytes. Default 512 KiB. */
  maxBytes?: number;
  /** Aborts the fetch early as well (a caller's own deadline). */
  signal?: AbortSignal;
  /** Default `application/json`. */
  accept?: string;
}

const DEFAULT_FETCH_TIMEOUT_MS = 5_000;
const DEFAULT_FETCH_MAX_BYTES = 512 * 1024;

/** The URL if the fetcher may request it: https, or http to a loopback host; no credentials. */
function outboundUrl(value: string | URL): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new OutboundFetchError('bad_url', 'not a URL', { cause });
  }
  if (!isHttpsOrLoopback(url)) {
    throw new OutboundFetchError(
      'bad_url',
      `${url.protocol}//${url.host} is not https (http only for loopback)`,
    );
  }
  if (url.username || url.password) throw new OutboundFetchError('bad_url', 'the URL carries credentials');
  return url;
}

/**
 * GETs `url` and parses its body as JSON, under the rules above. Throws `OutboundFetchError` for
 * anything but a `200` with JSON of at most `maxBytes`.
 *
 * @example
 * const jwks = await fetchJson('https://token.actions.githubusercontent.com/.well-known/jwks');
 */
export async function fetchJson(url: string | URL, options: FetchJsonOptions = {}): Promise<unknown> {
  const target = outboundUrl(url);
  const response = await cappedFetch(
    target,
    { method: 'GET', headers: { accept: options.accept ?? 'application/json' }, signal: options.signal },
    { maxBytes: options.maxBytes, timeoutMs: options.timeoutMs },
  );
  if (response.status !== 200)
    throw new OutboundFetchError('status', `HTTP ${response.status} from ${target.host}`);
  try {
    return JSON.parse(await response.text()) as unknown;
  } catch (cause) {
    throw new OutboundFetchError('not_json', `${target.host} did not answer with JSON`, { cause });
  }
}

function tooLarge(target: URL, maxBytes: number): OutboundFetchError {
  return new OutboundFetchError(
    'too_large',
    `the answer from ${target.host} is larger than ${maxBytes} bytes`,
  );
}

async function readCapped(response: Response, maxBytes: number, target: URL): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(target, maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What `cappedFetch` sends: the parts of a request an OAuth client library sets. */
export interface CappedRequest {
  method: string;
  headers: Record<string, string>;
  body?: RequestInit['body'] | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * A `fetch` for an OAuth client library (openid-client's `customFetch`): the same rules as `fetchJson`
 * (https or loopback only, no credentials in the URL, redirects refused, one deadline for the whole
 * exchange, the body read up to a cap), for any method, returning the answer as a `Response` whose body
 * is already read (so the deadline and the cap cover it). Non-200 answers are returned as they are: the
 * library reads their OAuth errors. Throws `OutboundFetchError` otherwise.
 */
export async function cappedFetch(
  url: string | URL,
  request: CappedRequest,
  options: Omit<FetchJsonOptions, 'accept' | 'signal'> = {},
): Promise<Response> {
  const target = outboundUrl(url);
  const maxBytes = options.maxBytes ?? DEFAULT_FETCH_MAX_BYTES;
  const deadline = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS);
  const signal = request.signal ? AbortSignal.any([deadline, request.signal]) : deadline;
  // The caller's own signal is a deadline of theirs (jose's, openid-client's): its abort is a timeout too.
  const failed = (cause: unknown): OutboundFetchError =>
    signal.aborted
      ? new OutboundFetchError('timeout', `no answer from ${target.host} in time`, { cause })
      : new OutboundFetchError('network', `cannot reach ${target.host}`, { cause });
  let response: Response;
  try {
    response = await fetch(target, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
      redirect: 'manual',
      signal,
    });
  } catch (cause) {
    throw failed(cause);
  }
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel().catch(() => {});
    throw new OutboundFetchError(
      'redirect',
      `${target.host} answered with a redirect, which is not followed`,
    );
  }
  if (Number(response.headers.get('content-length') ?? '0') > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(target, maxBytes);
  }
  let text: string;
  try {
    text = await readCapped(response, maxBytes, target);
  } catch (cause) {
    if (cause instanceof OutboundFetchError) throw cause;
    throw failed(cause);
  }
  const headers = new Headers(response.headers);
  headers.delete('content-encoding');
  headers.delete('content-length');
  return new Response(text, { status: response.status, statusText: response.statusText, headers });
}
