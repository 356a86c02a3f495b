// The peer: oidc-provider v9 configured for client_credentials with EdDSA-signed JWT access tokens,
// and the device flow for a public client.
// argv[2] is JSON: { basicSecret, jwtClientJwk }.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors } from 'oidc-provider';
// oidc-provider has no "exports" map, so its default adapter and LRU can be imported directly.
import MemoryAdapter, { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { generateEd25519 } from '../lib/jwt.js';

export const JWT_RESOURCE = 'https://api.bench.example/';
export const OPAQUE_RESOURCE = 'https://opaque.bench.example/';

const { basicSecret, jwtClientJwk } = JSON.parse(process.argv[2]);
const signing = generateEd25519('oidc-provider-bench');

// The default adapter (one LRU of 1000 entries) for everything but device codes, exactly as without an
// `adapter` option. Device codes (two entries each: the code and its user code) get an LRU of their own,
// large enough that the codes the device scenarios poll are not evicted (the default would keep a few
// hundred and answer invalid_grant for the rest).
const defaultAdapter = createMemoryAdapter(0);
const deviceStore = new LRU({ maxSize: 2_000_000 });
const adapter = (model) =>
  model === 'DeviceCode' ? new MemoryAdapter(model, deviceStore, 0) : defaultAdapter(model);

// Listen first so the issuer can carry the real port.
const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'bench-basic',
        client_secret: basicSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'read',
      },
      {
        client_id: 'bench-jwt',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'EdDSA',
        jwks: { keys: [jwtClientJwk] },
        scope: 'read',
      },
      {
        client_id: 'bench-device',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
        scope: 'read',
      },
    ],
    adapter,
    jwks: { keys: [signing.privateJwk] },
    scopes: ['read'],
    // The only key is Ed25519, so client defaults must not ask for RS256.
    clientDefaults: { id_token_signed_response_alg: 'EdDSA' },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: { ClientCredentials: 600, AccessToken: 600, DeviceCode: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      deviceFlow: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => JWT_RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (resourceIndicator === JWT_RESOURCE) {
            return { scope: 'read', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'EdDSA' } } };
          }
          // oidc-provider refuses to introspect structured (JWT) tokens, so the introspection
          // scenario asks for this resource and gets an opaque, stored token instead.
          if (resourceIndicator === OPAQUE_RESOURCE) {
            return { scope: 'read', accessTokenFormat: 'opaque' };
          }
          throw new errors.InvalidTarget();
        },
      },
    },
  });

  server.on('request', provider.callback());
  process.send?.({ type: 'ready', port, issuer });
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
