/**
 * The HTTP application: Fastify with only the parsers, hooks and routes the protocol needs.
 */

import type { KeyObject } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { Kysely } from 'kysely';
import { ADMIN_API_PREFIX, registerAdminApi } from './admin_api/plugin.js';
import { ApiKeyVerifier } from './api_keys/verify_api_key.js';
import type { AuditLog } from './audit/audit_log.js';
import { FailureLog } from './audit/failure_log.js';
import type { AssertionPolicy } from './client_auth/private_key_jwt.js';
import { ClientDirectory } from './clients/client_directory.js';
import { endpointUrl, paths, type ServerConfig } from './config.js';
import type { Kek, KekRing } from './crypto/kek.js';
import type { SealingKeys } from './crypto/seal.js';
import type { SecretHasher } from './crypto/secrets.js';
import { userCodesAtRest } from './device/user_code_at_rest.js';
import { registerApiKeyLeakEndpoint } from './endpoints/api_key_leaks.js';
import { registerApiKeyMintEndpoint } from './endpoints/api_key_mint.js';
import { registerApiKeyVerifyEndpoint } from './endpoints/api_key_verify.js';
import { clientAuthenticator } from './endpoints/client_request.js';
import { registerDeviceAuthorizationEndpoint } from './endpoints/device_authorization.js';
import { registerDiscovery } from './endpoints/discovery.js';
import { registerHealth } from './endpoints/health.js';
import { registerIntrospectionEndpoint } from './endpoints/introspection.js';
import { registerJwks } from './endpoints/jwks.js';
import { registerMetricsEndpoint } from './endpoints/metrics.js';
import { registerRevocationEndpoint } from './endpoints/revocation.js';
import { registerTokenEndpoint } from './endpoints/token.js';
import { registerUserinfoEndpoint } from './endpoints/userinfo.js';
import { IssuerKeys } from './federation/issuer_keys.js';
import { grantRegistry } from './grants/registry.js';
import { BearerGuard } from './http/bearer_guard.js';
import { answerPostOnly, installErrorBoundary, type ShutdownPhase } from './http/error_boundary.js';
import { parseForm } from './http/form_body.js';
import type { InFlightRequests } from './http/in_flight.js';
import { requestIdOf } from './http/request_id.js';
import { installRequestMetrics } from './http/request_metrics.js';
import { installSecurityHeaders } from './http/security_headers.js';
import { UpstreamClients } from './idps/upstream_client.js';
import { reasonLabel } from './metrics/labels.js';
import type { Metrics } from './metrics/metrics.js';
import { registerDevicePages } from './pages/index.js';
import { pgPoolUse } from './storage/raw.js';
import { forgetRevocationAnswers } from './storage/revocations.js';
import type { Database } from './storage/schema.js';
import { StorageHealth } from './storage/storage_health.js';
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
  /** Opens identity providers' client secrets; without it, single sign-on is not offered. */
  idpKeys?: SealingKeys | undefined;
  /**
   * Keys the hashes of unknown usernames in the audit log, and (derived from it) the stored form of user
   * codes: the stable audit-subject key (`services.stableKeys.auditSubjects`).
   */
  subjectKey: Buffer;
  /** Where unauthenticated failures go; default: one made here. Closed with the app. */
  failures?: FailureLog;
  logger: FastifyServerOptions['loggerInstance'] | boolean;
  /** The admin HTTP API's own parts; without them, no admin API is served. */
  adminApi?: AdminApiParts;
  /** Where the server's shutdown is (see `installErrorBoundary`); default: always serving. */
  shutdownPhase?: () => ShutdownPhase;
  /** Tracks the requests being answered, so a shutdown past its deadline can answer them 503. */
  inFlight?: InFlightRequests | undefined;
  /** Counts storage failures and logs outages once; default: one made here, closed with the app. */
  storageHealth?: StorageHealth | undefined;
  /** This app's metrics (off when absent: nothing is counted). */
  metrics?: Metrics | undefined;
  /** Whether `/metrics` is served on this app's port (`CLAVIS_METRICS=1`); else only `metrics` counts. */
  serveMetrics?: boolean | undefined;
}

export interface AdminApiParts {
  /** The audit chain's key (`services.auditKey`). */
  auditKey: KeyObject;
  /** Seals stored responses of idempotent creates: `kek.derive('idempotency-sealing')`. */
  sealKey: Buffer;
  /** The anchor file this server appends its seals to, which `POST /audit/verify` checks. */
  auditAnchorFile?: string | undefined;
  /** Calls per caller per minute (default ADMIN_CALLS_PER_MINUTE). */
  callsPerMinute?: number | undefined;
  /** The KEK the database is under and every configured one (`services.kek`, `services.kekRing`). */
  kek: { kek: Kek; kekRing: KekRing };
  /** Seals identity providers' client secrets (`services.idpKeys.seal`). */
  idpSealKey: Buffer;
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

/** Whether `logger` logs at debug or finer: then every request gets its lines, with its id. */
function logsRequests(logger: AppDeps['logger']): boolean {
  if (typeof logger !== 'object' || logger === null) return false;
  const level = (logger as { level?: unknown }).level;
  return level === 'debug' || level === 'trace';
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const { config, metrics } = deps;
  const app = Fastify({
    ...(typeof deps.logger === 'boolean' ? { logger: deps.logger } : { loggerInstance: deps.logger }),
    // The caller's X-Request-Id if short and safe, else a random one; echoed, logged and audited.
    genReqId: requestIdOf,
    ...(logsRequests(deps.logger)
      ? {}
      : {
          // Per-request lines would cost throughput and add nothing the audit log does not already
          // hold (at debug level they are written, each with its `reqId`).
          logController: new LogController({ disableRequestLogging: true }),
          // No per-request child logger: nothing logs per request, and a pino child with redaction
          // costs ~2% of a key verification. The error boundary names the request id itself.
          childLoggerFactory: (logger: NonNullable<FastifyServerOptions['loggerInstance']>) => logger,
        }),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustedProxies.length ? config.trustedProxies : false,
    // Shutdown is answered by the error boundary (an OAuth 503 with Retry-After), not the framework.
    return503OnClosing: false,
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
  deps.inFlight?.track(app);
  const storageHealth = deps.storageHealth ?? new StorageHealth({ db: deps.db, log: app.log });
  if (!deps.storageHealth) app.addHook('onClose', () => storageHealth.close());
  installErrorBoundary(app, {
    storageHealth,
    shutdownPhase: deps.shutdownPhase,
    duringShutdown: ['/healthz', '/readyz'],
    metrics,
  });
  if (metrics) installRequestMetrics(app, metrics);
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
  if (metrics) {
    failures.onRefusal((entry) =>
      metrics.refusals.inc({ event: entry.event, reason: reasonLabel(entry.detail?.reason) }),
    );
  }
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
  registerTokenEndpoint(app, { grants, authenticate, metrics });
  const userCodes = userCodesAtRest(deps.subjectKey);
  registerDeviceAuthorizationEndpoint(app, {
    config,
    audit,
    hasher,
    userCodes,
    authenticate,
  });
  registerIntrospectionEndpoint(app, { config, tokens, db, hasher, apiKeys, authenticate });
  registerRevocationEndpoint(app, { config, tokens, db, audit, hasher, authenticate });
  registerDevicePages(app, {
    config,
    db,
    audit,
    failures,
    hasher,
    cookieKey: deps.cookieKey,
    userCodes,
    totpKey: deps.totpKey,
    totpOpenKeys: deps.totpOpenKeys,
    upstream:
      deps.idpKeys &&
      new UpstreamClients({
        secretKeys: deps.idpKeys.open,
        loginKey: deps.cookieKey,
        // The providers' keys: refetched for an unknown kid once the last fetch is 10 s old.
        issuerKeys: new IssuerKeys({
          clock: config.clock,
          refetchIntervalMs: 10_000,
          timeoutMs: config.upstreamTimeoutMs,
          onFetchFailure: (issuer, err) =>
            app.log.warn({ issuer, reason: err.message }, 'identity provider keys not fetched'),
        }),
        timeoutMs: config.upstreamTimeoutMs,
        clock: config.clock,
      }),
  });
  registerApiKeyVerifyEndpoint(app, { apiKeys, failures, authenticate });
  const bearer = new BearerGuard((token) =>
    verifyLiveAccessToken({ tokens, db, issuer: config.issuer, clock: config.clock }, token),
  );
  registerUserinfoEndpoint(app, { db, bearer });
  registerApiKeyMintEndpoint(app, { config, db, audit, hasher, bearer });
  registerApiKeyLeakEndpoint(app, { config, db, audit, failures, hasher });
  registerHealth(app, {
    db,
    keys,
    isShuttingDown: () => (deps.shutdownPhase?.() ?? 'serving') !== 'serving',
    storageHealth,
  });
  if (deps.adminApi) {
    registerAdminApi(app, {
      admin: {
        db,
        audit,
        hasher,
        clock: config.clock,
        maxAccessTokenTtlSeconds: config.maxAccessTokenTtlSeconds,
        defaultAccessTokenTtlSeconds: config.defaultAccessTokenTtlSeconds,
      },
      totpKey: deps.totpKey,
      apiKeyMaxTtlSeconds: config.apiKeyMaxTtlSeconds,
      clockToleranceSeconds: config.clockToleranceSeconds,
      keys,
      auditKey: deps.adminApi.auditKey,
      auditAnchorFile: deps.adminApi.auditAnchorFile,
      issuerKeys,
      bearer,
      audit,
      failures,
      sealKey: deps.adminApi.sealKey,
      callsPerMinute: deps.adminApi.callsPerMinute,
      kek: deps.adminApi.kek,
      idpSealKey: deps.adminApi.idpSealKey,
      assertionAudience: config.assertionAudience,
      serverUrl: `${config.issuer.replace(/\/$/, '')}${ADMIN_API_PREFIX}`,
    });
  }
  if (metrics) {
    audit.onBatch((units, ms, failed) => {
      if (failed) metrics.auditBatchFailures.inc();
      else {
        metrics.auditBatchSize.observe(units);
        metrics.auditBatchDuration.observe(ms / 1000);
      }
    });
    metrics.observe({
      clock: config.clock,
      pool: () => pgPoolUse(db),
      auditQueued: () => audit.queued,
      auditUnsealedSince: () => audit.unsealedSince,
      signingKeyActivatedAt: () => keys.currentActivatedAt(),
      caches: () => ({ clients: clients.cacheTally, api_keys: apiKeys.cacheTally }),
      outageCounters: () => ({ outages: storageHealth.outages, failures: storageHealth.failures }),
    });
    if (deps.serveMetrics) registerMetricsEndpoint(app, metrics);
  }
  return app;
}
