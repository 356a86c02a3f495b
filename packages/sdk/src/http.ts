/**
 * The SDK's one way to talk HTTP: bounded in time and in size (a body past the cap is refused, not read
 * to the end), redirects refused (a credential is never replayed to where a redirect points), JSON
 * checked to be an object, and OAuth error bodies turned back into core's `OAuthError` classes.
 *
 * @example
 * ```ts
 * const token = await postForm(http, metadata.token_endpoint, { grant_type: 'client_credentials' });
 * ```
 */
import { type KnownOAuthError, oauthErrorFromResponse, type TokenResponse } from '@clavis/core';
import { ClavisError } from './errors.js';

/** How the SDK calls the network; the defaults suit a CLI. */
export interface HttpOptions {
  /** The fetch to use (default: the global one). */
  fetch: typeof globalThis.fetch;
  /** Gives up on a request after this long (default 10 s). */
  timeoutMs: number;
  /** The largest response body read (default 256 KiB). */
  maxResponseBytes: number;
}

/**
 * The defaults of {@link HttpOptions}.
 *
 * @example
 * ```ts
 * const metadata = await discover({ ...defaultHttpOptions, timeoutMs: 3000 }, issuer);
 * ```
 */
export const defaultHttpOptions: HttpOptions = {
  fetch: (input, init) => globalThis.fetch(input, init),
  timeoutMs: 10_000,
  maxResponseBytes: 256 * 1024,
};

/** A response read within the caps. */
export interface HttpResult {
  status: number;
  headers: Headers;
  /** The parsed JSON object, or `undefined` when the body is not one. */
  json: Record<string, unknown> | undefined;
}

/** Reads at most `maxBytes` of a body; more is `invalid_response` and the rest is not read. */
export async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new ClavisError('invalid_response', `the response is larger than ${maxBytes} bytes`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new ClavisError('invalid_response', `the response is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Sends one request within the time and size caps; network failures are `network_error`. */
export async function request(
  http: HttpOptions,
  url: string,
  init: RequestInit & { signal?: AbortSignal | null },
): Promise<HttpResult> {
  const timeout = AbortSignal.timeout(http.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await http.fetch(url, { ...init, signal, redirect: 'error' });
  } catch (err) {
    if (init.signal?.aborted) throw new ClavisError('cancelled', 'cancelled', { cause: err });
    const what = timeout.aborted ? 'did not answer in time' : 'could not be reached';
    throw new ClavisError('network_error', `${new URL(url).origin} ${what}`, { cause: err });
  }
  let text: string;
  try {
    text = await readCapped(response, http.maxResponseBytes);
  } catch (err) {
    if (err instanceof ClavisError) throw err;
    if (init.signal?.aborted) throw new ClavisError('cancelled', 'cancelled', { cause: err });
    const what = timeout.aborted ? 'did not finish its answer in time' : 'broke off its answer';
    throw new ClavisError('network_error', `${new URL(url).origin} ${what}`, { cause: err });
  }
  return { status: response.status, headers: response.headers, json: parseObject(text) };
}

/** An OAuth error body as its class, keeping `Retry-After` and `WWW-Authenticate`. */
export function oauthError(result: HttpResult): KnownOAuthError | undefined {
  if (!result.json || typeof result.json.error !== 'string') return undefined;
  const err = oauthErrorFromResponse(result.json);
  for (const name of ['retry-after', 'www-authenticate']) {
    const value = result.headers.get(name);
    if (value) err.headers[name] = value;
  }
  return err;
}

/**
 * POSTs a form to an OAuth endpoint and returns its JSON object; an error body is thrown as its
 * `OAuthError` class, anything else unexpected as `invalid_response`.
 */
export async function postForm(
  http: HttpOptions,
  url: string,
  params: Record<string, string | undefined>,
  options: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) body.set(name, value);
  const result = await request(http, url, {
    method: 'POST',
    headers: { accept: 'application/json', ...options.headers },
    body,
    signal: options.signal ?? null,
  });
  if (result.status >= 200 && result.status < 300) return result;
  const err = oauthError(result);
  if (err) throw err;
  throw new ClavisError('invalid_response', `${new URL(url).pathname} answered HTTP ${result.status}`);
}

/** Checks a token endpoint answer has the shape RFC 6749 §5.1 says. */
export function tokenResponse(result: HttpResult): TokenResponse {
  const body = result.json;
  if (
    !body ||
    typeof body.access_token !== 'string' ||
    body.access_token.length === 0 ||
    typeof body.token_type !== 'string' ||
    body.token_type.toLowerCase() !== 'bearer' ||
    typeof body.expires_in !== 'number' ||
    !Number.isFinite(body.expires_in) ||
    body.expires_in <= 0 ||
    (body.scope !== undefined && typeof body.scope !== 'string') ||
    (body.refresh_token !== undefined && typeof body.refresh_token !== 'string')
  ) {
    throw new ClavisError('invalid_response', 'the token endpoint answered with a malformed token response');
  }
  return body as unknown as TokenResponse;
}
