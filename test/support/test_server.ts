/**
 * An in-process server for endpoint tests: real storage (SQLite file or PostgreSQL schema), real keys,
 * real audit log, a hand-driven clock; requests go through Fastify's `inject()`.
 */
import { join } from 'node:path';
import {
  adminClients,
  buildApp,
  type Client,
  openServices,
  resolveConfig,
  type ServerConfig,
  type Services,
  type ServicesOptions,
} from '@clavis/server';
import type { FastifyInstance } from 'fastify';
import { FailureLog } from '../../packages/server/src/audit/failure_log.js';
import { TestClock } from './clock.js';
import { createTestDatabase, type TestDatabase, type TestDialect } from './dialects.js';

export const ISSUER = 'https://as.clavis.test';
export const TOKEN_ENDPOINT = `${ISSUER}/oauth/token`;
export const INTROSPECTION_ENDPOINT = `${ISSUER}/oauth/introspect`;
export const REVOCATION_ENDPOINT = `${ISSUER}/oauth/revoke`;

export interface TestServer {
  app: FastifyInstance;
  services: Services;
  config: ServerConfig;
  clock: TestClock;
  database: TestDatabase;
  /** Unauthenticated failures of this instance: `flush()` ends the aggregation window early. */
  failures: FailureLog;
  /** Registers a client through the same code path as `clavis admin clients create`. */
  createClient(input: Partial<adminClients.CreateClientInput>): Promise<{ client: Client; secret?: string }>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  config?: Partial<Omit<ServerConfig, 'issuer' | 'clock'>>;
  clock?: TestClock;
  /** Share a database with another TestServer (a second instance). */
  database?: TestDatabase;
  /** Where the services report refused signing keys. */
  logger?: ServicesOptions['logger'];
  /** The admin API's calls per caller per minute (default: the server's). */
  adminCallsPerMinute?: number;
  /** PostgreSQL: the change listener's options (default: listening, as `serve` does). */
  listenForChanges?: ServicesOptions['listenForChanges'];
}

export async function createTestServer(
  dialect: TestDialect,
  options: TestServerOptions = {},
): Promise<TestServer> {
  const clock = options.clock ?? new TestClock();
  const database = options.database ?? (await createTestDatabase(dialect));
  // Suites share one address and a frozen clock: only tests of the failure budget set it low.
  const config = resolveConfig({
    authFailuresPerAddressPerMinute: 1_000_000,
    ...options.config,
    issuer: ISSUER,
    clock: clock.read,
  });
  const services = await openServices({
    dbUrl: database.url,
    kekFile: join(database.dir, 'clavis.kek'),
    writer: 'test',
    clock: clock.read,
    signingAlg: config.signingAlg,
    keyRotationIntervalSeconds: config.keyRotationIntervalSeconds,
    maxAccessTokenTtlSeconds: config.maxAccessTokenTtlSeconds,
    poolSize: 5,
    listenForChanges: options.listenForChanges ?? true,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  await services.keys.refresh();
  const failures = new FailureLog({
    db: services.db,
    audit: services.audit,
    clock: clock.read,
    subjectKey: services.stableKeys.auditSubjects,
    perAddressPerMinute: config.authFailuresPerAddressPerMinute,
  });
  const app = buildApp({
    config,
    db: services.db,
    keys: services.keys,
    audit: services.audit,
    hasher: services.hasher,
    cookieKey: services.kek.derive('cookie-signing'),
    totpKey: services.totpKey,
    idpKeys: services.idpKeys,
    subjectKey: services.stableKeys.auditSubjects,
    failures,
    logger: false,
    adminApi: {
      auditKey: services.auditKey,
      sealKey: services.kek.derive('idempotency-sealing'),
      callsPerMinute: options.adminCallsPerMinute,
      kek: { kek: services.kek, kekRing: services.kekRing },
      idpSealKey: services.idpKeys.seal,
    },
  });
  await app.ready();
  const deps: adminClients.AdminDeps = {
    db: services.db,
    audit: services.audit,
    hasher: services.hasher,
    clock: clock.read,
    maxAccessTokenTtlSeconds: config.maxAccessTokenTtlSeconds,
    defaultAccessTokenTtlSeconds: config.defaultAccessTokenTtlSeconds,
  };
  const ownsDatabase = !options.database;
  return {
    app,
    services,
    config,
    clock,
    database,
    failures,
    createClient: (input) =>
      adminClients.createClient(
        deps,
        { name: 'test client', kind: 'confidential', scopes: ['read', 'write'], ...input },
        { type: 'admin', id: 'test' },
      ),
    async close() {
      await app.close();
      await services.close();
      if (ownsDatabase) await database.drop();
    },
  };
}
