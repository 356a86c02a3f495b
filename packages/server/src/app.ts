/**
 * The HTTP application: Fastify with only the parsers, hooks and routes the protocol needs.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { Kysely } from 'kysely';
import { ApiKeyVerifier } from './api_keys/verify_api_key.js';
import type { AuditLog } from './audit/audit_log.js';
import { FailureLog } from './audit/failure_log.js';
import type { AssertionPolicy } from './client_auth/private_key_jwt.js';
import { ClientDirectory } from './clients/client_directory.js';
import { endpointUrl, paths, type ServerConfig } from './config.js';
import type { SecretHasher } from './crypto/secrets.js';
import { registerApiKeyLeakEndpoint } from './endpoints/api_key_leaks.js';
import { registerApiKeyMintEndpoint } from './endpoints/api_key_mint.js';
import { registerApiKeyVerifyEndpoint } from './endpoints/api_key_verify.js';
import { clientAuthenticator } from './endpoints/client_request.js';
import { registerDeviceAuthorizationEndpoint } from './endpoints/device_authorization.js';
import { registerDiscovery } from './endpoints/discovery.js';
import { registerHealth } from './endpoints/health.js';
import { registerIntrospectionEndpoint } from './endpoints/introspection.js';
import { registerJwks } from './endpoints/jwks.js';
import { registerRevocationEndpoint } from './endpoints/revocation.js';
import { registerTokenEndpoint } from './endpoints/token.js';
import { registerUserinfoEndpoint } from './endpoints/userinfo.js';
import { IssuerKeys } from './federation/issuer_keys.js';
import { grantRegistry } from './grants/registry.js';
import { BearerGuard } from './http/bearer_guard.js';
import { answerPostOnly, installErrorBoundary } from './http/error_boundary.js';
import { parseForm } from './http/form_body.js';
import { installSecurityHeaders } from './http/security_headers.js';
import { registerDevicePages } from './pages/index.js';
import { forgetRevocationAnswers } from './storage/revocations.js';
import type { Database } from './storage/schema.js';
import { verifyLiveAccessToken } from './tokens/live_access_token.js';
import type { KeyStore } from './tokens/signing_keys.js';
import { AccessTokenVerifier } from './tokens/token_verifier.js';

export interface AppDeps {
  config: ServerConfig;
  db: Kysely<Database>;
  keys: KeyStore;
  audit: AuditLog;
  hasher: SecretHasher;
  /** Signs the verification pages' cookies and forms: `kek.derive('cookie-signing')`. */
  cookieKey: Buffer;
  /** Seals TOTP secrets at rest: `kek.derive('totp-sealing')`. */
  totpKey: Buffer;
  /** Opens them: `totpKey`, then the same key of previous KEKs (default: `totpKey` only). */
  totpOpenKeys?: readonly Buffer[] | undefined;
  /** Keys the hashes of unknown usernames in the audit log: `kek.derive('audit-subjects')`. */
  subjectKey: Buffer;
  /** Where unauthenticated failures go; default: one made here. Closed with the app. */
  failures?: FailureLog;
  logger: FastifyServerOptions['loggerInstance'] | boolean;
  isShuttingDown?: () => boolean;
}

function assertionPolicyFor(config: ServerConfig): AssertionPolicy {
  return {
    issuer: config.issuer,
    tokenEndpoint: endpointUrl(config, paths.token),
    audience: config.assertionAudience,
    maxLifetimeSeconds: config.assertionMaxLifetimeSeconds,
    clockToleranceSeconds: config.clockToleranceSeconds,
    now: config.clock,
  };
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const { config } = deps;
  const app = Fastify({
    ...(typeof deps.logger === 'boolean' ? { logger: deps.logger } : { loggerInstance: deps.logger }),
    // Per-request lines would cost throughput and add nothing the audit log does not already hold.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger: nothing logs per request, and a pino child with redaction costs ~2%
    // of a key verification. The error boundary names the request id itself.
    childLoggerFactory: (logger) => logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustedProxies.length ? config.trustedProxies : false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      try {
        done(null, parseForm(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
  installSecurityHeaders(app, { https: config.issuer.startsWith('https:') });
  installErrorBoundary(app);
  answerPostOnly(app, [
    paths.token,
    paths.deviceAuthorization,
    paths.introspection,
    paths.revocation,
    paths.apiKeys,
    paths.apiKeyVerification,
    paths.apiKeyLeaks,
  ]);

  const clients = new ClientDirectory(deps.db);
  deps.audit.onChange(() => clients.invalidate());
  // Unauthenticated failures: throttled per address and aggregated before they reach the audit log.
  const failures =
    deps.failures ??
    new FailureLog({
      db: deps.db,
      audit: deps.audit,
      clock: config.clock,
      subjectKey: deps.subjectKey,
      perAddressPerMinute: config.authFailuresPerAddressPerMinute,
    });
  app.addHook('onClose', () => failures.close());
  const authenticate = clientAuthenticator({
    clients,
    db: deps.db,
    hasher: deps.hasher,
    audit: deps.audit,
    failures,
    assertionPolicy: assertionPolicyFor(config),
  });
  // Workload-token issuers' keys, cached per instance.
  const issuerKeys = new IssuerKeys({
    clock: config.clock,
    onFetchFailure: (issuer, err) => app.log.warn({ issuer, reason: err.message }, 'issuer keys not fetched'),
  });
  // One API-key verifier per app, with its cache of keys.
  const apiKeys = new ApiKeyVerifier({
    db: deps.db,
    hasher: deps.hasher,
    clock: config.clock,
    audit: deps.audit,
  });
  deps.audit.onChange(() => apiKeys.invalidate());
  deps.audit.onChange(() => forgetRevocationAnswers(deps.db));
  const tokens = new AccessTokenVerifier(deps.keys, config.issuer);
  const { db, keys, audit, hasher } = deps;

  const issuing = { config, keys, audit };
  const userTokens = { ...issuing, db, hasher };
  const federated = { ...issuing, db, failures, clients, issuerKeys };
  const grants = grantRegistry({
    clientCredentials: issuing,
    deviceCode: userTokens,
    refreshToken: userTokens,
    tokenExchange: { ...federated, apiKeys },
    jwtBearer: federated,
  });

  registerDiscovery(app, config);
  registerJwks(app, keys);
  registerTokenEndpoint(app, { grants, authenticate });
  registerDeviceAuthorizationEndpoint(app, { config, audit, hasher, authenticate });
  registerIntrospectionEndpoint(app, { config, tokens, db, hasher, apiKeys, authenticate });
  registerRevocationEndpoint(app, { config, tokens, db, audit, hasher, authenticate });
  registerDevicePages(app, {
    config,
    db,
    audit,
    failures,
    hasher,
    cookieKey: deps.cookieKey,
    totpKey: deps.totpKey,
    totpOpenKeys: deps.totpOpenKeys,
  });
  registerApiKeyVerifyEndpoint(app, { apiKeys, failures, authenticate });
  const bearer = new BearerGuard((token) =>
    verifyLiveAccessToken({ tokens, db, issuer: config.issuer, clock: config.clock }, token),
  );
  registerUserinfoEndpoint(app, { db, bearer });
  registerApiKeyMintEndpoint(app, { config, db, audit, hasher, bearer });
  registerApiKeyLeakEndpoint(app, { config, db, audit, failures, hasher });
  registerHealth(app, { db, keys, isShuttingDown: deps.isShuttingDown ?? (() => false) });
  return app;
}
