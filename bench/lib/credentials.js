// Clavis-only scenarios for the non-interactive credentials: API-key verification by a resource
// server, API key → access token exchange, and a CI workload token → access token exchange (RFC 8693)
// with the issuer's key cached (an inline JWKS: no fetch during the run).
import { generateEd25519, githubActionsToken, SignedPool } from './jwt.js';
import { basicAuth } from './oauth.js';

export const CREDENTIAL_SCENARIOS = ['key_verify', 'key_exchange', 'fed_exchange'];

const FORM = 'application/x-www-form-urlencoded';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const API_KEY_TOKEN_TYPE = 'urn:clavis:params:oauth:token-type:api_key';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/**
 * The issuer the bench's federation trusts; its keys are given inline, so nothing is fetched. Not
 * GitHub's own issuer: Clavis holds that one to GitHub's rules (RS256 only), and pre-signing RS256
 * tokens would take minutes; a generic issuer with EdDSA keeps the pool cheap to fill.
 */
export const BENCH_CI_ISSUER = 'https://ci.bench.example';
const BENCH_REPOSITORY = 'bench/app';
const BENCH_REF = 'refs/heads/main';

const form = (params) => new URLSearchParams(params).toString();

function checkTokenResponse(json) {
  if (typeof json.access_token !== 'string' || json.access_token.length < 16) return 'no access_token';
  if (String(json.token_type).toLowerCase() !== 'bearer') return `token_type is ${json.token_type}`;
  return true;
}

/**
 * target: { name, tokenEndpoint, verifyEndpoint, basic: { clientId, clientSecret }, issuer,
 *           createKey(): Promise<string>,   // an API key owned by the basic client, scope read
 *           createFederation(jwks): Promise<void> }  // trusts BENCH_CI_ISSUER for the basic client
 */
export function credentialScenarios(target, opts) {
  const basicHeader = basicAuth(target.basic.clientId, target.basic.clientSecret);
  let key = null;
  const theKey = async () => {
    key ??= target.createKey();
    return key;
  };
  return [
    {
      name: 'key_verify',
      label: 'API-key verification by a resource server (client_secret_basic)',
      async prepare() {
        if (!target.verifyEndpoint) throw new Error('discovery has no api_key_verification_endpoint');
        return {
          method: 'POST',
          url: target.verifyEndpoint,
          headers: { 'content-type': FORM, authorization: basicHeader },
          body: form({ key: await theKey(), ip: '127.0.0.1', scope: 'read' }),
        };
      },
      check: (json) => (json.active === true ? true : `active is ${json.active}`),
      describe: (sample) => `owner ${sample.owner}, scope ${sample.scope}`,
    },
    {
      name: 'key_exchange',
      label: 'API key → access token (token exchange, no client authentication)',
      async prepare() {
        return {
          method: 'POST',
          url: target.tokenEndpoint,
          headers: { 'content-type': FORM },
          body: form({
            grant_type: TOKEN_EXCHANGE,
            subject_token: await theKey(),
            subject_token_type: API_KEY_TOKEN_TYPE,
            scope: 'read',
          }),
        };
      },
      check: checkTokenResponse,
      describe: (sample) => `issued_token_type ${sample.issued_token_type}`,
    },
    {
      name: 'fed_exchange',
      label: 'CI workload token → access token (token exchange, cached issuer key, pre-signed tokens)',
      pool: null,
      async prepare() {
        const issuerKey = generateEd25519('bench-ci');
        await target.createFederation({ keys: [issuerKey.publicJwk] });
        const pool = new SignedPool(() =>
          githubActionsToken({
            issuer: BENCH_CI_ISSUER,
            audience: target.issuer,
            repository: BENCH_REPOSITORY,
            ref: BENCH_REF,
            privateKey: issuerKey.privateKey,
            kid: issuerKey.kid,
          }),
        );
        const est = opts.estimateRps?.(target.name, 'cc_private_key_jwt') ?? 2500;
        const count = Math.min(400_000, Math.ceil(est * (opts.duration + opts.warmup) * 1.3) + 2000);
        const ms = pool.fill(count);
        process.stdout.write(`    pre-signed ${count} workload tokens in ${(ms / 1000).toFixed(1)} s\n`);
        this.pool = pool;
        return {
          method: 'POST',
          url: target.tokenEndpoint,
          headers: { 'content-type': FORM },
          makeBody: () =>
            form({
              grant_type: TOKEN_EXCHANGE,
              subject_token: pool.take(),
              subject_token_type: JWT_TOKEN_TYPE,
              scope: 'read',
            }),
        };
      },
      check: checkTokenResponse,
      describe: () => 'GitHub-Actions-shaped EdDSA token, unique jti',
      after() {
        if (this.pool?.signedOnDemand > 0) {
          return `pool ran dry: ${this.pool.signedOnDemand} tokens were signed inside the load loop`;
        }
        return null;
      },
    },
  ];
}

export const BENCH_FEDERATION = { issuer: BENCH_CI_ISSUER, repository: BENCH_REPOSITORY, ref: BENCH_REF };
