// Launches oidc-provider (the peer) and builds its OAuth scenarios.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DEVICE_SCENARIOS, deviceScenarios } from '../lib/device.js';
import { generateEd25519 } from '../lib/jwt.js';
import { discover, OAUTH_SCENARIOS, oauthScenarios } from '../lib/oauth.js';
import { forkServer } from '../lib/procs.js';

export const TARGET = 'oidc-provider';
export const SCENARIOS = [...OAUTH_SCENARIOS, ...DEVICE_SCENARIOS];

const OPAQUE_RESOURCE = 'https://opaque.bench.example/';

export async function launch(opts) {
  const basicSecret = randomBytes(32).toString('base64url');
  const clientKey = generateEd25519('bench-client');
  const proc = await forkServer(
    TARGET,
    fileURLToPath(new URL('./oidc_provider.child.js', import.meta.url)),
    [JSON.stringify({ basicSecret, jwtClientJwk: clientKey.publicJwk })],
    { env: { NODE_ENV: 'production' } },
  );
  const { issuer } = proc.ready;
  const meta = await discover(issuer, '/.well-known/openid-configuration');
  const notes = [
    'in-memory adapter (oidc-provider default; an LRU of 1000 entries, so jti replay detection and opaque tokens are bounded in memory, no database)',
    'access tokens: JWT signed EdDSA (Ed25519) via resourceIndicators (defaultResource + getResourceServerInfo)',
    'introspection uses an opaque access token: oidc-provider rejects introspection of structured JWT access tokens (unsupported_token_type)',
    'device flow: public client (none); device codes in a separate in-memory LRU of 2,000,000 entries (the default 1000 would evict them); never answers slow_down',
  ];
  const target = {
    name: TARGET,
    issuer,
    tokenEndpoint: meta.token_endpoint,
    introspectionEndpoint: meta.introspection_endpoint,
    jwksUri: meta.jwks_uri,
    basic: { clientId: 'bench-basic', clientSecret: basicSecret },
    jwt: { clientId: 'bench-jwt', privateKey: clientKey.privateKey, kid: clientKey.kid, audience: issuer },
    tokenParams: { scope: 'read' },
    introspectTokenParams: { scope: 'read', resource: OPAQUE_RESOURCE },
  };
  const device = {
    name: TARGET,
    deviceAuthorizationEndpoint: meta.device_authorization_endpoint,
    tokenEndpoint: meta.token_endpoint,
    params: { scope: 'read' },
    clientId: async () => 'bench-device',
  };
  return {
    name: TARGET,
    proc,
    notes,
    scenarios: [...oauthScenarios(target, opts), ...deviceScenarios(device, opts)],
  };
}
