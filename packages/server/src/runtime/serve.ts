/**
 * `clavis serve`: open the services, bootstrap an empty database, listen, keep keys and seals fresh,
 * purge what has expired, and shut down gracefully within a deadline: readiness says `shutting_down`,
 * idle keep-alive connections close, every later request is answered 503 with `Connection: close`, the
 * listener closes, in-flight requests finish, the audit segment is flushed and sealed. What has not
 * finished when the deadline passes (a database that hangs) is abandoned: connections are closed and
 * the close returns; a segment left unsealed is sealed by the next `serve` once its lease lapses.
 */

import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { purgeUpdateLocks } from '../admin_api/etag.js';
import { purgeIdempotencyKeys } from '../admin_api/idempotency.js';
import { sweepIdleApiKeys } from '../api_keys/idle_sweep.js';
import { buildApp } from '../app.js';
import { AuditAnchor, AuditAnchorError } from '../audit/anchor.js';
import { DEFAULT_LEASE_MS } from '../audit/audit_log.js';
import { resolveConfig, type ServerConfig } from '../config.js';
import { purgeDeviceCodes } from '../device/device_store.js';
import { type ShutdownPhase, ShuttingDown, sendOAuthError } from '../http/error_boundary.js';
import { InFlightRequests } from '../http/in_flight.js';
import { purgeUpstreamLogins } from '../idps/upstream_logins.js';
import type { Metrics } from '../metrics/metrics.js';
import { recordServedSettings } from '../posture/served_settings.js';
import { purgeFamilies } from '../refresh/refresh_store.js';
import { isTransientStorageError } from '../storage/errors.js';
import { purgeRateLimits } from '../storage/rate_limits.js';
import { purgeReplayGuard } from '../storage/replay_guard.js';
import { purgeRevocations } from '../storage/revocations.js';
import { StorageHealth } from '../storage/storage_health.js';
import { purgeSessions } from '../users/sessions.js';
import { type BootstrapResult, bootstrap } from './bootstrap.js';
import { listenForMetrics, type MetricsListener } from './metrics_listener.js';
import { defaultAuditAnchorFile, defaultAuditKeyFile, openServices, type Services } from './services.js';

export interface ServeOptions {
  dbUrl: string;
  port: number;
  host: string;
  /** Default: http://localhost:PORT (http://HOST:PORT for a specific loopback host). */
  issuer?: string | undefined;
  kek?: string | undefined;
  /** `CLAVIS_KEK_PREVIOUS`. */
  kekPrevious?: string | undefined;
  kekFile?: string | undefined;
  adminPassword?: string | undefined;
  config?: Partial<Omit<ServerConfig, 'issuer'>>;
  logger?: Logger;
  /** How often the audit segment is sealed, ms. */
  sealIntervalMs?: number;
  /** `CLAVIS_AUDIT_KEY`: the audit signing key file (default: `clavis-audit.key` beside the KEK file). */
  auditKeyFile?: string | undefined;
  /** `CLAVIS_AUDIT_ANCHOR`: the anchor file (default: beside the database; see defaultAuditAnchorFile). */
  auditAnchorFile?: string | undefined;
  /**
   * `CLAVIS_AUDIT_ANCHOR_CHECK`: what to do when the newest seal the anchor holds is missing from the
   * database or differs: `refuse` to start (default), or `warn` (log an error and start anyway).
   */
  auditAnchorCheck?: 'refuse' | 'warn' | undefined;
  /**
   * `CLAVIS_SHUTDOWN_DRAIN`: how long a shutdown keeps listening and serving, with readiness answering
   * 503 and every answer closing its connection, before it closes the listener (ms, default 0): the time
   * a load balancer needs to notice. Counted within the shutdown timeout.
   */
  shutdownDrainMs?: number | undefined;
  /** `CLAVIS_SHUTDOWN_TIMEOUT`: how long a shutdown may wait for requests and storage (ms, default 10 s). */
  shutdownTimeoutMs?: number | undefined;
  /**
   * Prometheus metrics: off (default); `main`, `/metrics` on the main port (`CLAVIS_METRICS=1`); or a
   * separate listener at HOST:PORT (`CLAVIS_METRICS_LISTEN`), and then not on the main port.
   */
  metrics?: 'off' | 'main' | { host: string; port: number } | undefined;
}

/** How long `close()` waits by default before it stops waiting for requests and storage. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  config: ServerConfig;
  url: string;
  bootstrap: BootstrapResult;
  /** The audit anchor file this server appends its seals to, if any. */
  auditAnchor: string | undefined;
  /** Counts storage failures; logs an outage and its end once each. */
  storageHealth: StorageHealth;
  /** Where `/metrics` is served on its own listener (`CLAVIS_METRICS_LISTEN`), if it is. */
  metricsUrl: string | undefined;
  /** Shuts down within the shutdown deadline (see the module comment); resolves once done. */
  close(): Promise<void>;
}

export function createLogger(level = process.env.CLAVIS_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'clavis' },
    // At debug level each request is logged with its id: its path only, never the query string.
    serializers: {
      req: (req: { method?: string; url?: string; ip?: string }) => ({
        method: req.method,
        path: typeof req.url === 'string' ? req.url.split('?')[0] : undefined,
        remoteAddress: req.ip,
      }),
    },
    // Belt and braces: nothing that could carry a credential is ever serialised.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.client_secret',
        '*.password',
        '*.token',
        '*.access_token',
        '*.refresh_token',
        '*.client_assertion',
      ],
      censor: '[redacted]',
    },
  });
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const logger = options.logger ?? createLogger();
  const defaultHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  const config = resolveConfig({
    ...options.config,
    issuer:
      options.issuer ??
      `http://${defaultHost.includes(':') ? `[${defaultHost}]` : defaultHost}:${options.port}`,
  });
  const sealIntervalMs = options.sealIntervalMs ?? 2000;
  const services = await openServices({
    dbUrl: options.dbUrl,
    listenForChanges: true,
    backgroundCheckpoints: {
      onFallback: (reason) => logger.warn({ sqlite: { reason } }, 'checkpoints are back on the main thread'),
    },
    kek: options.kek,
    kekPrevious: options.kekPrevious,
    kekFile: options.kekFile,
    auditKeyFile: options.auditKeyFile ?? defaultAuditKeyFile(options.dbUrl, options.kekFile),
    // The lease outlives a few missed heartbeats (one per seal tick).
    auditLeaseMs: Math.max(DEFAULT_LEASE_MS, 5 * sealIntervalMs),
    writer: 'serve',
    clock: config.clock,
    signingAlg: config.signingAlg,
    keyRotationIntervalSeconds: config.keyRotationIntervalSeconds,
    maxAccessTokenTtlSeconds: config.maxAccessTokenTtlSeconds,
    logger,
  });
  let phase: ShutdownPhase = 'serving';
  const storageHealth = new StorageHealth({ db: services.db, log: logger, clock: config.clock });
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const inFlight = new InFlightRequests();
  const drainMs = options.shutdownDrainMs ?? 0;
  const timers: NodeJS.Timeout[] = [];
  let anchor: AuditAnchor | undefined;
  let app: FastifyInstance | undefined;
  let metricsListener: MetricsListener | undefined;
  const metricsMode = options.metrics ?? 'off';
  // prom-client is loaded only when metrics are on: start-up without them does not pay for it.
  const metrics: Metrics | undefined =
    metricsMode === 'off' ? undefined : new (await import('../metrics/metrics.js')).Metrics();
  try {
    anchor = await openAuditAnchor(services, options, logger);
    // For the posture report, which runs in another process and cannot see this one's settings.
    await recordServedSettings(services.db, { assertionAudience: config.assertionAudience });
    await services.audit.sealAbandoned();
    services.keys.recordCreationsIn(services.audit);
    await services.keys.refresh();
    app = buildApp({
      config,
      db: services.db,
      keys: services.keys,
      audit: services.audit,
      hasher: services.hasher,
      cookieKey: services.kek.derive('cookie-signing'),
      totpKey: services.totpKey,
      totpOpenKeys: services.totpOpenKeys,
      idpKeys: services.idpKeys,
      subjectKey: services.stableKeys.auditSubjects,
      logger,
      shutdownPhase: () => phase,
      storageHealth,
      inFlight,
      adminApi: {
        auditKey: services.auditKey,
        sealKey: services.kek.derive('idempotency-sealing'),
        auditAnchorFile: anchor?.file,
        kek: { kek: services.kek, kekRing: services.kekRing },
        idpSealKey: services.idpKeys.seal,
      },
      metrics,
      serveMetrics: metricsMode === 'main',
    });
    const background = (name: string, ms: number, task: () => Promise<unknown>) => {
      const t = setInterval(() => {
        task().catch((err: unknown) => {
          // An outage is logged once, by the storage health, not once per tick of every task.
          if (isTransientStorageError(err)) storageHealth.failed(err);
          else logger.warn({ task: name, err: (err as Error).message }, 'background task failed');
        });
      }, ms);
      t.unref();
      timers.push(t);
    };
    background('keys', 60_000, () => services.keys.refresh());
    background('seal', sealIntervalMs, async () => {
      await services.audit.seal();
      await services.audit.heartbeat();
      await services.audit.sealAbandoned();
    });
    background('purge', 5 * 60_000, async () => {
      const now = config.clock();
      await purgeReplayGuard(services.db, now);
      await purgeRevocations(services.db, now);
      await purgeDeviceCodes(services.db, now);
      await purgeFamilies(services.db, now);
      await purgeSessions(services.db, now);
      await purgeUpstreamLogins(services.db, now);
      await purgeRateLimits(services.db, now - 3_600_000);
      await purgeIdempotencyKeys(services.db, now);
      await purgeUpdateLocks(services.db, now);
    });
    // Idle API keys are revoked; several instances may sweep at once.
    background('api-key-idle-sweep', 10 * 60_000, () =>
      sweepIdleApiKeys(
        { db: services.db, audit: services.audit, clock: config.clock },
        config.apiKeyIdleRevokeSeconds,
      ),
    );
    await app.listen({ port: options.port, host: options.host });
    if (metrics && typeof metricsMode === 'object')
      metricsListener = await listenForMetrics(metrics, metricsMode);
    // Only once the port is ours: a start that cannot listen must not create the admin, whose one-time
    // password it would then never print.
    const boot = await bootstrap(services, { adminPassword: options.adminPassword });
    const address = app.server.address();
    const listening = app;
    const port = typeof address === 'object' && address ? address.port : options.port;
    let closing: Promise<void> | undefined;
    return {
      app: listening,
      services,
      config,
      url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
      bootstrap: boot,
      auditAnchor: anchor?.file,
      storageHealth,
      metricsUrl: metricsListener?.url,
      close() {
        closing ??= (async () => {
          const started = Date.now();
          for (const t of timers) clearInterval(t);
          storageHealth.close();
          const graceful = (async () => {
            // Readiness answers 503 from now on; requests are still served, each answer with
            // `Connection: close`.
            phase = 'draining';
            listening.server.closeIdleConnections();
            if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
            // Every request but liveness and readiness is answered 503 from now on (error boundary);
            // idle keep-alive sockets close now, busy ones once their answer is sent.
            phase = 'closing';
            listening.server.closeIdleConnections();
            await listening.close();
            await metricsListener?.close();
            await services.close();
          })();
          let timer: NodeJS.Timeout | undefined;
          const expired = new Promise<'expired'>((resolve) => {
            timer = setTimeout(() => resolve('expired'), shutdownTimeoutMs);
          });
          let outcome: 'done' | 'expired' = 'done';
          try {
            outcome = await Promise.race([graceful.then(() => 'done' as const), expired]);
          } finally {
            clearTimeout(timer);
            // The anchor takes the final seal: closed once the close that writes it has ended.
            if (outcome === 'done') anchor?.close();
          }
          if (outcome === 'expired') {
            // Still waiting (for a database that hangs, say): stop. The abandoned close may yet seal the
            // segment while the process lives; else the next serve seals it once its lease lapses.
            graceful.then(
              () => anchor?.close(),
              () => anchor?.close(),
            );
            // Requests still waiting are answered 503 (retry elsewhere), then every connection closes
            // once its answer is out.
            const answered = inFlight.answerAll(new ShuttingDown(), sendOAuthError);
            setImmediate(() => listening.server.closeAllConnections());
            logger.warn(
              {
                shutdown_timeout_ms: shutdownTimeoutMs,
                waited_ms: Date.now() - started,
                answered_503: answered,
              },
              'shutdown deadline passed: closing without waiting for requests or storage',
            );
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const t of timers) clearInterval(t);
    await metricsListener?.close();
    await app?.close().catch(() => {});
    await services.close().catch(() => {});
    anchor?.close();
    throw err;
  }
}

/**
 * Opens the anchor file, checks that the newest seal it holds is still in the database (else the newest
 * part of the audit log was deleted, or the database replaced), and appends every seal from now on to it
 * and to the log.
 */
async function openAuditAnchor(
  services: Services,
  options: ServeOptions,
  logger: Logger,
): Promise<AuditAnchor | undefined> {
  const file = options.auditAnchorFile ?? defaultAuditAnchorFile(options.dbUrl, options.kekFile);
  const signing = services.auditSigning;
  if (!file || !signing) return undefined;
  const anchor = AuditAnchor.open(file, signing.publicX, services.clock());
  try {
    const last = anchor.lastSeal;
    if (last) {
      const stored = await services.db
        .selectFrom('audit_seals')
        .select(['hash', 'signature'])
        .where('seq', '=', last.seq)
        .executeTakeFirst();
      if (!stored || stored.hash !== last.hash || stored.signature !== last.signature) {
        const problem = `the audit anchor ${file} ends with seal ${last.seq}, which is ${stored ? 'different in' : 'missing from'} the database: the newest part of the audit log was deleted or altered, or this is not the database the anchor belongs to. Check with: clavis admin audit verify --anchor ${file}`;
        if ((options.auditAnchorCheck ?? 'refuse') === 'refuse') {
          throw new AuditAnchorError(`${problem}. To start anyway, set CLAVIS_AUDIT_ANCHOR_CHECK=warn`);
        }
        logger.error(
          { anchor: file, seal: last.seq },
          `${problem} (starting anyway: CLAVIS_AUDIT_ANCHOR_CHECK=warn)`,
        );
      }
    }
    services.audit.onSeal((seal) => {
      logger.info({ audit_seal: anchor.append(seal) }, 'audit seal');
    });
    return anchor;
  } catch (err) {
    anchor.close();
    throw err;
  }
}
