/**
 * RFC 6750 §3: a resource server's `WWW-Authenticate: Bearer error="…"` turned into core's error class
 * (`invalid_token`, `insufficient_scope`, `invalid_request`), so a CLI switches on `code`.
 *
 * @example
 * ```ts
 * const err = bearerError('Bearer realm="api", error="insufficient_scope", scope="invoices:write"');
 * err?.code; // 'insufficient_scope'
 * ```
 */
import { InsufficientScope, InvalidRequest, InvalidToken, type OAuthError } from '@clavis/core';

/** The auth-params of the `Bearer` challenge in a `WWW-Authenticate` value. */
export function bearerChallenge(header: string): Record<string, string> | undefined {
  const start = header.search(/(^|,\s*)Bearer(\s|$)/i);
  if (start < 0) return undefined;
  const params: Record<string, string> = {};
  const rest = header.slice(start).replace(/^,?\s*Bearer\s*/i, '');
  const pattern = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,\s*|$)/y;
  let match = pattern.exec(rest);
  while (match) {
    params[(match[1] as string).toLowerCase()] = match[2]?.replace(/\\(.)/g, '$1') ?? match[3] ?? '';
    match = pattern.exec(rest);
  }
  return params;
}

/**
 * The typed error a `WWW-Authenticate` header names, or `undefined`.
 *
 * @example
 * ```ts
 * const err = bearerError(response.headers.get('www-authenticate'));
 * if (err) throw err;
 * ```
 */
export function bearerError(header: string | null): OAuthError | undefined {
  if (!header) return undefined;
  const params = bearerChallenge(header);
  if (!params?.error) return undefined;
  const description = (params.error_description ?? '').slice(0, 300);
  let err: OAuthError;
  switch (params.error) {
    case 'invalid_token':
      err = new InvalidToken(description);
      break;
    case 'insufficient_scope':
      err = new InsufficientScope(description);
      break;
    case 'invalid_request':
      err = new InvalidRequest(description);
      break;
    default:
      return undefined;
  }
  err.headers['www-authenticate'] = header;
  return err;
}
