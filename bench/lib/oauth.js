// The OAuth scenarios shared by Clavis and oidc-provider: client_credentials with
// client_secret_basic, client_credentials with private_key_jwt, introspection, JWKS.
import { AssertionPool, decodeJwt } from './jwt.js';

export const OAUTH_SCENARIOS = ['cc_basic', 'cc_private_key_jwt', 'introspect', 'jwks'];

const FORM = 'application/x-www-form-urlencoded';

/** RFC 6749 §2.3.1: client_id and secret are form-encoded before base64. */
export function basicAuth(id, secret) {
  const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

const form = (params) => new URLSearchParams(params).toString();

function checkTokenResponse(json) {
  if (typeof json.access_token !== 'string' || json.access_token.length < 16) return 'no access_token';
  if (String(json.token_type).toLowerCase() !== 'bearer') return `token_type is ${json.token_type}`;
  return true;
}

function describeToken(token) {
  const jwt = decodeJwt(token);
  return jwt ? `JWT alg=${jwt.header.alg}` : 'opaque';
}

/**
 * Builds the scenario list for an OAuth target.
 *
 * target: {
 *   name, issuer, tokenEndpoint, introspectionEndpoint, jwksUri,
 *   basic: { clientId, clientSecret },
 *   jwt: { clientId, privateKey, kid, audience },
 *   tokenParams: extra form params for client_credentials (e.g. scope),
 *   introspectTokenParams: form params used to obtain the token that gets introspected,
 *   notes: string[] (appended to)
 * }
 * opts: { duration, warmup, estimateRps(name) -> number | undefined }
 */
export function oauthScenarios(target, opts) {
  const basicHeader = basicAuth(target.basic.clientId, target.basic.clientSecret);
  const ccBody = form({ grant_type: 'client_credentials', ...target.tokenParams });

  return [
    {
      name: 'cc_basic',
      label: 'client_credentials, client_secret_basic',
      async prepare() {
        return {
          method: 'POST',
          url: target.tokenEndpoint,
          headers: { 'content-type': FORM, authorization: basicHeader },
          body: ccBody,
        };
      },
      check: checkTokenResponse,
      describe: (sample) => `access token: ${describeToken(sample.access_token)}`,
    },
    {
      name: 'cc_private_key_jwt',
      label: 'client_credentials, private_key_jwt (pre-signed assertions)',
      pool: null,
      async prepare() {
        const pool = new AssertionPool({
          clientId: target.jwt.clientId,
          audience: target.jwt.audience,
          privateKey: target.jwt.privateKey,
          kid: target.jwt.kid,
        });
        // Size the pool from the basic-auth rate if it was measured; fall back to signing on demand.
        const est = opts.estimateRps?.(target.name) ?? 4000;
        const count = Math.min(400_000, Math.ceil(est * (opts.duration + opts.warmup) * 1.3) + 2000);
        const ms = pool.fill(count);
        process.stdout.write(`    pre-signed ${count} assertions in ${(ms / 1000).toFixed(1)} s\n`);
        this.pool = pool;
        const base = {
          grant_type: 'client_credentials',
          client_id: target.jwt.clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          ...target.tokenParams,
        };
        return {
          method: 'POST',
          url: target.tokenEndpoint,
          headers: { 'content-type': FORM },
          makeBody: () => form({ ...base, client_assertion: pool.take() }),
        };
      },
      check: checkTokenResponse,
      describe: (sample) => `access token: ${describeToken(sample.access_token)}`,
      after() {
        if (this.pool?.signedOnDemand > 0) {
          return `pool ran dry: ${this.pool.signedOnDemand} assertions were signed inside the load loop`;
        }
        return null;
      },
    },
    {
      name: 'introspect',
      label: 'introspection of a valid access token (client_secret_basic)',
      async prepare() {
        if (!target.introspectionEndpoint) throw new Error('discovery has no introspection_endpoint');
        const params = target.introspectTokenParams ?? target.tokenParams;
        const res = await fetch(target.tokenEndpoint, {
          method: 'POST',
          headers: { 'content-type': FORM, authorization: basicHeader },
          body: form({ grant_type: 'client_credentials', ...params }),
        });
        const json = await res.json().catch(() => ({}));
        if (res.status !== 200 || !json.access_token) {
          throw new Error(
            `could not get a token to introspect: HTTP ${res.status} ${JSON.stringify(json).slice(0, 300)}`,
          );
        }
        this.tokenKind = describeToken(json.access_token);
        return {
          method: 'POST',
          url: target.introspectionEndpoint,
          headers: { 'content-type': FORM, authorization: basicHeader, accept: 'application/json' },
          body: form({ token: json.access_token }),
        };
      },
      check: (json) => (json.active === true ? true : `active is ${json.active}`),
      describe(sample) {
        return `introspected ${this.tokenKind} token; active=${sample.active}`;
      },
    },
    {
      name: 'jwks',
      label: 'JWKS GET',
      async prepare() {
        return { method: 'GET', url: target.jwksUri, headers: {} };
      },
      check: (json) => (Array.isArray(json.keys) && json.keys.length > 0 ? true : 'no keys'),
      describe: (sample) =>
        `${sample.keys.length} key(s): ${sample.keys.map((k) => `${k.kty}/${k.crv ?? ''}/${k.alg ?? '-'}`).join(', ')}`,
    },
  ];
}

/** Reads RFC 8414 / OIDC discovery. */
export async function discover(issuer, path = '/.well-known/oauth-authorization-server') {
  const url = new URL(path, issuer.endsWith('/') ? issuer : `${issuer}/`);
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`discovery ${url}: HTTP ${res.status}`);
  const meta = await res.json();
  for (const k of ['token_endpoint', 'jwks_uri']) {
    if (typeof meta[k] !== 'string') throw new Error(`discovery ${url}: missing ${k}`);
  }
  return meta;
}
