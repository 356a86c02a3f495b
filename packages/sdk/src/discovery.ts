/**
 * Authorization server metadata (RFC 8414): the SDK finds every endpoint through it and checks what it
 * reads — the `issuer` must be exactly the one asked for (§3.3), every endpoint an absolute URL, https
 * or loopback http. Optional members (`userinfo_endpoint`, `scopes_supported`) are used when present.
 *
 * @example
 * ```ts
 * const metadata = await discover(defaultHttpOptions, 'https://clavis.example.com');
 * console.log(metadata.device_authorization_endpoint);
 * ```
 */
import { AUTHORIZATION_SERVER_METADATA_PATH, type AuthorizationServerMetadata } from '@clavis/core';
import { ClavisError } from './errors.js';
import { type HttpOptions, request } from './http.js';

/** What the SDK reads of the metadata: core's shape, plus the members a server may add. */
export interface ServerMetadata
  extends Pick<
    AuthorizationServerMetadata,
    'issuer' | 'token_endpoint' | 'jwks_uri' | 'revocation_endpoint' | 'device_authorization_endpoint'
  > {
  grant_types_supported?: string[];
  scopes_supported?: string[];
  /** OpenID Connect UserInfo, when the server has one. */
  userinfo_endpoint?: string;
  id_token_signing_alg_values_supported?: string[];
}

const loopback = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Is `url` https, or http on the loopback interface? */
export function isAcceptableUrl(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback.has(url.hostname));
}

/**
 * Normalises and checks an issuer URL: https (or loopback http), no query or fragment, no trailing `/`.
 *
 * @example
 * ```ts
 * normaliseIssuer('https://clavis.example.com/'); // 'https://clavis.example.com'
 * ```
 */
export function normaliseIssuer(issuer: string): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ClavisError('invalid_configuration', 'the issuer is not a URL');
  }
  if (!isAcceptableUrl(url) || url.search || url.hash || url.username || url.password) {
    throw new ClavisError(
      'invalid_configuration',
      'the issuer must be an https URL (or http on loopback) without query, fragment or credentials',
    );
  }
  return url.href.replace(/\/+$/, '');
}

/** Where RFC 8414 §3.1 puts the metadata of `issuer`. */
export function metadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}${AUTHORIZATION_SERVER_METADATA_PATH}${path}`;
}

const fail = (why: string): never => {
  throw new ClavisError('discovery_failed', `server metadata: ${why}`);
};

function endpoint(body: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const value = body[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') return fail(`${name} is missing`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(`${name} is not a URL`);
  }
  if (!isAcceptableUrl(url)) fail(`${name} must be https`);
  return url.href;
}

function stringList(body: Record<string, unknown>, name: string): string[] | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) fail(`${name} is not a list`);
  return value as string[];
}

/**
 * Fetches and checks the metadata of `issuer`; anything wrong is `discovery_failed`.
 *
 * @example
 * ```ts
 * const { token_endpoint } = await discover(defaultHttpOptions, 'https://clavis.example.com');
 * ```
 */
export async function discover(
  http: HttpOptions,
  issuer: string,
  signal?: AbortSignal,
): Promise<ServerMetadata> {
  let result: Awaited<ReturnType<typeof request>>;
  try {
    result = await request(http, metadataUrl(issuer), {
      headers: { accept: 'application/json' },
      signal: signal ?? null,
    });
  } catch (err) {
    if (err instanceof ClavisError && err.code === 'cancelled') throw err;
    throw new ClavisError('discovery_failed', `server metadata: ${(err as Error).message}`, { cause: err });
  }
  if (result.status !== 200) fail(`HTTP ${result.status}`);
  const body = result.json ?? fail('not a JSON object');
  if (body.issuer !== issuer) fail('issuer does not match the server asked');
  const metadata: ServerMetadata = {
    issuer,
    token_endpoint: endpoint(body, 'token_endpoint', true) as string,
    jwks_uri: endpoint(body, 'jwks_uri', true) as string,
    revocation_endpoint: endpoint(body, 'revocation_endpoint', false) as string,
    device_authorization_endpoint: endpoint(body, 'device_authorization_endpoint', false) as string,
  };
  const userinfo = endpoint(body, 'userinfo_endpoint', false);
  if (userinfo) metadata.userinfo_endpoint = userinfo;
  const grants = stringList(body, 'grant_types_supported');
  if (grants) metadata.grant_types_supported = grants;
  const scopes = stringList(body, 'scopes_supported');
  if (scopes) metadata.scopes_supported = scopes;
  const algs = stringList(body, 'id_token_signing_alg_values_supported');
  if (algs) metadata.id_token_signing_alg_values_supported = algs;
  return metadata;
}
