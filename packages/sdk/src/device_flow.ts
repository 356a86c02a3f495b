/**
 * The Device Authorization Grant (RFC 8628) as a CLI runs it: ask for a code at the device
 * authorization endpoint (found by discovery), show it through `onCode`, then poll the token endpoint
 * every `interval` seconds — `authorization_pending` waits on, `slow_down` adds five seconds for good,
 * `expired_token` and `access_denied` end it as `login_expired` and `login_denied`. An AbortSignal
 * cancels it at once, leaving no timer behind; the clock and the sleep are injectable for tests.
 *
 * @example
 * ```ts
 * const tokens = await runDeviceFlow(deps, {
 *   onCode: ({ userCode, verificationUriComplete }) =>
 *     console.error(`Open ${verificationUriComplete} and check that it shows ${userCode}`),
 * });
 * ```
 */
import {
  AccessDenied,
  AuthorizationPending,
  ExpiredToken,
  formatScope,
  GrantType,
  SlowDown,
  type TokenResponse,
  TooManyRequests,
} from '@clavis/core';
import type { ServerMetadata } from './discovery.js';
import { ClavisError } from './errors.js';
import { type HttpOptions, postForm, tokenResponse } from './http.js';

/** What the person is shown. */
export interface DeviceCode {
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string;
  /** Seconds until the code expires. */
  expiresIn: number;
}

/** Sleeps `ms`, or rejects with `cancelled` as soon as `signal` aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * A sleep that clears its timer when aborted.
 *
 * @example
 * ```ts
 * await abortableSleep(5000, controller.signal);
 * ```
 */
export const abortableSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const cancelled = () => new ClavisError('cancelled', 'cancelled', { cause: signal?.reason });
    if (signal?.aborted) {
      reject(cancelled());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export interface DeviceFlowDeps {
  http: HttpOptions;
  metadata: ServerMetadata;
  clientId: string;
  scopes: readonly string[];
  now: () => number;
  sleep: Sleep;
}

export interface DeviceFlowOptions {
  onCode: (code: DeviceCode) => void | Promise<void>;
  signal?: AbortSignal;
}

function deviceCodeResponse(json: Record<string, unknown> | undefined) {
  const ok =
    json &&
    typeof json.device_code === 'string' &&
    json.device_code.length > 0 &&
    typeof json.user_code === 'string' &&
    json.user_code.length > 0 &&
    json.user_code.length <= 64 &&
    typeof json.verification_uri === 'string' &&
    /^https?:\/\//.test(json.verification_uri) &&
    (json.verification_uri_complete === undefined || typeof json.verification_uri_complete === 'string') &&
    typeof json.expires_in === 'number' &&
    json.expires_in > 0 &&
    (json.interval === undefined || (typeof json.interval === 'number' && json.interval >= 0));
  if (!ok)
    throw new ClavisError('invalid_response', 'the device authorization endpoint answered malformed JSON');
  return json as {
    device_code: string;
    user_code: string;
    verification_uri: string;
    verification_uri_complete?: string;
    expires_in: number;
    interval?: number;
  };
}

/** Runs the device flow to its end: the token response, or a typed error. */
export async function runDeviceFlow(
  deps: DeviceFlowDeps,
  options: DeviceFlowOptions,
): Promise<TokenResponse> {
  const { http, metadata, clientId, signal } = { ...deps, signal: options.signal };
  const endpoint = metadata.device_authorization_endpoint;
  if (!endpoint)
    throw new ClavisError('discovery_failed', 'the server lists no device_authorization_endpoint');
  const authorization = deviceCodeResponse(
    (
      await postForm(
        http,
        endpoint,
        { client_id: clientId, scope: deps.scopes.length > 0 ? formatScope(deps.scopes) : undefined },
        signal ? { signal } : {},
      )
    ).json,
  );
  const deadline = deps.now() + authorization.expires_in * 1000;
  let intervalMs = Math.max(1, authorization.interval ?? 5) * 1000;
  await options.onCode({
    userCode: authorization.user_code,
    verificationUri: authorization.verification_uri,
    verificationUriComplete: authorization.verification_uri_complete ?? authorization.verification_uri,
    expiresIn: authorization.expires_in,
  });
  for (;;) {
    if (deps.now() >= deadline)
      throw new ClavisError('login_expired', 'the code expired before it was approved');
    await deps.sleep(intervalMs, signal);
    try {
      const result = await postForm(
        http,
        metadata.token_endpoint,
        { grant_type: GrantType.DeviceCode, device_code: authorization.device_code, client_id: clientId },
        signal ? { signal } : {},
      );
      return tokenResponse(result);
    } catch (err: unknown) {
      if (err instanceof AuthorizationPending) continue;
      if (err instanceof SlowDown) {
        intervalMs += 5000;
        continue;
      }
      if (err instanceof TooManyRequests) {
        intervalMs = Math.max(intervalMs, Number(err.headers['retry-after'] ?? 0) * 1000);
        continue;
      }
      if (err instanceof ExpiredToken) {
        throw new ClavisError('login_expired', 'the code expired before it was approved', { cause: err });
      }
      if (err instanceof AccessDenied) {
        throw new ClavisError('login_denied', 'the request was denied in the browser', { cause: err });
      }
      throw err;
    }
  }
}
