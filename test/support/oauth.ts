/**
 * OAuth requests in tests: form bodies, HTTP Basic, and form POSTs to the endpoints of an in-process app
 * (`inject`) or of a listening server (`fetch`). What an answer must look like is in oauth_answers.ts.
 */
import type { FastifyInstance } from 'fastify';

export const TOKEN_PATH = '/oauth/token';
export const DEVICE_AUTHORIZATION_PATH = '/oauth/device_authorization';
export const INTROSPECTION_PATH = '/oauth/introspect';
export const REVOCATION_PATH = '/oauth/revoke';

/** `application/x-www-form-urlencoded` body from pairs (repeats allowed, for duplicate-parameter tests). */
export function form(params: Record<string, string> | Array<[string, string]>): string {
  const pairs = Array.isArray(params) ? params : Object.entries(params);
  return new URLSearchParams(pairs).toString();
}

/** RFC 6749 §2.3.1: both parts form-encoded, then base64. */
export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POST a form to a path of the in-process app. */
export function post(
  server: { app: Pick<FastifyInstance, 'inject'> },
  path: string,
  body: string | Record<string, string>,
  headers: Record<string, string> = {},
) {
  return server.app.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: typeof body === 'string' ? body : form(body),
  });
}

/** POST a form over HTTP to a listening server (`base` is its origin, e.g. `http://127.0.0.1:PORT`). */
export function postForm(
  base: string,
  path: string,
  body: string | Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof body === 'string' ? body : form(body),
  });
}

/** How a test client authenticates: a public client names itself, a confidential one uses HTTP Basic. */
export interface Caller {
  id: string;
  secret?: string;
}

/** Form params plus headers for a caller: client_id in the body (public) or HTTP Basic (confidential). */
export function authenticate(
  caller: Caller,
  params: Record<string, string>,
): { params: Record<string, string>; headers: Record<string, string> } {
  if (caller.secret === undefined) return { params: { ...params, client_id: caller.id }, headers: {} };
  return { params, headers: { authorization: basic(caller.id, caller.secret) } };
}

/** POST a form to a path of the in-process app as `caller` (a bare string: a public client's id). */
export function postAs(
  server: { app: Pick<FastifyInstance, 'inject'> },
  path: string,
  caller: Caller | string,
  params: Record<string, string>,
) {
  const auth = authenticate(typeof caller === 'string' ? { id: caller } : caller, params);
  return post(server, path, auth.params, auth.headers);
}

/** RFC 7662 introspection of `token` by `caller`; `extra` adds parameters (`token_type_hint`, …). */
export function introspect(
  server: { app: Pick<FastifyInstance, 'inject'> },
  caller: Caller | string,
  token: string,
  extra: Record<string, string> = {},
) {
  return postAs(server, INTROSPECTION_PATH, caller, { token, ...extra });
}

/** RFC 7009 revocation of `token` by `caller`; `extra` adds parameters (`token_type_hint`, …). */
export function revoke(
  server: { app: Pick<FastifyInstance, 'inject'> },
  caller: Caller | string,
  token: string,
  extra: Record<string, string> = {},
) {
  return postAs(server, REVOCATION_PATH, caller, { token, ...extra });
}
