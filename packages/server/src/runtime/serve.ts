/**
 * `clavis serve`: open the services, bootstrap an empty database, listen, keep keys and seals fresh,
 * purge what has expired, and shut down gracefully (in-flight requests finish, the audit segment is
 * flushed and sealed).
 */

import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { sweepIdleApiKeys } from '../api_keys/idle_sweep.js';
import { buildApp } from '../app.js';
import { AuditAnchor, AuditAnchorError } from '../audit/anchor.js';
import { DEFAULT_LEASE_MS } from '../audit/audit_log.js';
import { resolveConfig, type ServerConfig } from '../config.js';
import { purgeDeviceCodes } from '../device/device_store.js';
import { recordServedSettings } from '../posture/served_settings.js';
import { purgeFamilies } from '../refresh/refresh_store.js';
import { purgeRateLimits } from '../storage/rate_limits.js';
import { purgeReplayGuard } from '../storage/replay_guard.js';
import { purgeRevocations } from '../storage/revocations.js';
import { purgeSessions } from '../users/sessions.js';
import { type BootstrapResult, bootstrap } from './bootstrap.js';
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
}

export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  config: ServerConfig;
  url: string;
  bootstrap: BootstrapResult;
  /** The audit anchor file this server appends its seals to, if any. */
  auditAnchor: string | undefined;
  close(): Promise<void>;
}

export function createLogger(level = process.env.CLAVIS_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'clavis' },
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
  let shuttingDown = false;
  const timers: NodeJS.Timeout[] = [];
  let anchor: AuditAnchor | undefined;
  let app: FastifyInstance | undefined;
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
      subjectKey: services.stableKeys.auditSubjects,
      logger,
      isShuttingDown: () => shuttingDown,
    });
    const background = (name: string, ms: number, task: () => Promise<unknown>) => {
      const t = setInterval(() => {
        task().catch((err: unknown) =>
          logger.warn({ task: name, err: (err as Error).message }, 'background task failed'),
        );
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
      await purgeRateLimits(services.db, now - 3_600_000);
    });
    // Idle API keys are revoked; several instances may sweep at once.
    background('api-key-idle-sweep', 10 * 60_000, () =>
      sweepIdleApiKeys(
        { db: services.db, audit: services.audit, clock: config.clock },
        config.apiKeyIdleRevokeSeconds,
      ),
    );
    await app.listen({ port: options.port, host: options.host });
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
      close() {
        closing ??= (async () => {
          shuttingDown = true;
          for (const t of timers) clearInterval(t);
          await listening.close();
          try {
            await services.close();
          } finally {
            anchor?.close();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const t of timers) clearInterval(t);
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
