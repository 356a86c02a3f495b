/**
 * `clavis serve`: open the services, bootstrap an empty database, listen, keep keys and seals fresh,
 * purge what has expired, and shut down gracefully (in-flight requests finish, the audit segment is
 * flushed and sealed).
 */
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
// Scoped API keys (issue 4).
import { sweepIdleApiKeys } from '../api_keys/idle_sweep.js';
import { buildApp } from '../app.js';
import { type BootstrapResult, bootstrap } from '../bootstrap.js';
import { resolveConfig, type ServerConfig } from '../config.js';
import { purgeDeviceCodes } from '../device/device_store.js';
import { purgeFamilies } from '../refresh/refresh_store.js';
import { purgeRateLimits } from '../storage/rate_limits.js';
import { purgeReplayGuard } from '../storage/replay_guard.js';
import { purgeRevocations } from '../storage/revocations.js';
import { purgeSessions } from '../users/sessions.js';
import { openServices, type Services } from './services.js';

export interface ServeOptions {
  dbUrl: string;
  port: number;
  host: string;
  /** Default: http://localhost:PORT (http://HOST:PORT for a specific loopback host). */
  issuer?: string | undefined;
  kek?: string | undefined;
  kekFile?: string | undefined;
  adminPassword?: string | undefined;
  config?: Partial<Omit<ServerConfig, 'issuer'>>;
  logger?: Logger;
  /** How often the audit segment is sealed, ms. */
  sealIntervalMs?: number;
}

export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  config: ServerConfig;
  url: string;
  bootstrap: BootstrapResult;
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
  const services = await openServices({
    dbUrl: options.dbUrl,
    kek: options.kek,
    kekFile: options.kekFile,
    writer: 'serve',
    clock: config.clock,
    signingAlg: config.signingAlg,
    keyRotationIntervalSeconds: config.keyRotationIntervalSeconds,
    maxAccessTokenTtlSeconds: config.maxAccessTokenTtlSeconds,
  });
  let shuttingDown = false;
  const timers: NodeJS.Timeout[] = [];
  try {
    services.keys.recordCreationsIn(services.audit);
    await services.keys.refresh();
    const boot = await bootstrap(services, { adminPassword: options.adminPassword });
    const app = buildApp({
      config,
      db: services.db,
      keys: services.keys,
      audit: services.audit,
      hasher: services.hasher,
      cookieKey: services.kek.derive('cookie-signing'),
      totpKey: services.totpKey,
      subjectKey: services.kek.derive('audit-subjects'),
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
    background('seal', options.sealIntervalMs ?? 2000, () => services.audit.seal());
    background('purge', 5 * 60_000, async () => {
      const now = config.clock();
      await purgeReplayGuard(services.db, now);
      await purgeRevocations(services.db, now);
      await purgeDeviceCodes(services.db, now);
      await purgeFamilies(services.db, now);
      await purgeSessions(services.db, now);
      await purgeRateLimits(services.db, now - 3_600_000);
    });
    // Scoped API keys (issue 4): idle keys are revoked; several instances may sweep at once.
    background('api-key-idle-sweep', 10 * 60_000, () =>
      sweepIdleApiKeys(
        { db: services.db, audit: services.audit, clock: config.clock },
        config.apiKeyIdleRevokeSeconds,
      ),
    );
    await app.listen({ port: options.port, host: options.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    let closing: Promise<void> | undefined;
    return {
      app,
      services,
      config,
      url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
      bootstrap: boot,
      close() {
        closing ??= (async () => {
          shuttingDown = true;
          for (const t of timers) clearInterval(t);
          await app.close();
          await services.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const t of timers) clearInterval(t);
    await services.close().catch(() => {});
    throw err;
  }
}
