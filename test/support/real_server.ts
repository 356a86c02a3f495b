/**
 * A real, listening Clavis server for interop tests: `startServer` (the code `clavis serve` runs) on a
 * loopback port, over a real SQLite file or PostgreSQL schema, so independent clients talk to it over
 * TCP exactly as they would in production.
 */
import { join } from 'node:path';
import {
  adminClients,
  type Client,
  createLogger,
  type RunningServer,
  type ServeOptions,
  type ServerConfig,
  startServer,
} from '@clavis/server';
import { createTestDatabase, type TestDatabase, type TestDialect } from './dialects.js';
import { freePort } from './free_port.js';

export interface RealServer {
  running: RunningServer;
  /** `http://127.0.0.1:PORT`: the issuer identifier and the base URL. */
  issuer: string;
  database: TestDatabase;
  /** What the admin operations take, on this server's database (as `clavis admin --db` builds it). */
  adminDeps: adminClients.AdminDeps;
  createClient(input: Partial<adminClients.CreateClientInput>): Promise<{ client: Client; secret?: string }>;
  close(): Promise<void>;
}

export async function startRealServer(
  dialect: TestDialect,
  options: {
    signingAlg?: 'EdDSA' | 'ES256' | 'RS256';
    /** Server settings beyond the defaults (e.g. a 1 s device poll interval for real-time polling). */
    config?: Partial<Omit<ServerConfig, 'issuer' | 'signingAlg'>>;
    /** Where the server logs (default: nowhere), e.g. to check that no secret is ever logged. */
    logger?: ServeOptions['logger'];
    /** Shutdown settings (default: the server's: no drain, 10 s deadline). */
    shutdown?: Pick<ServeOptions, 'shutdownTimeoutMs' | 'shutdownDrainMs'>;
    /** The URL the server opens, from the test database's (e.g. through a `DbProxy`, with timeouts). */
    dbUrl?: (url: string) => string;
    /** Prometheus metrics: off (default), on the main port, or on their own listener. */
    metrics?: ServeOptions['metrics'];
  } = {},
): Promise<RealServer> {
  const database = await createTestDatabase(dialect);
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  let running: RunningServer;
  try {
    running = await startServer({
      dbUrl: options.dbUrl ? options.dbUrl(database.url) : database.url,
      port,
      ...options.shutdown,
      host: '127.0.0.1',
      issuer,
      kekFile: join(database.dir, 'clavis.kek'),
      adminPassword: 'interop-test-admin-password',
      logger: options.logger ?? createLogger('silent'),
      metrics: options.metrics,
      config: { ...options.config, ...(options.signingAlg ? { signingAlg: options.signingAlg } : {}) },
    });
  } catch (err) {
    await database.drop();
    throw err;
  }
  const { services, config } = running;
  const deps: adminClients.AdminDeps = {
    db: services.db,
    audit: services.audit,
    hasher: services.hasher,
    clock: config.clock,
    maxAccessTokenTtlSeconds: config.maxAccessTokenTtlSeconds,
    defaultAccessTokenTtlSeconds: config.defaultAccessTokenTtlSeconds,
  };
  return {
    running,
    issuer,
    database,
    adminDeps: deps,
    createClient: (input) =>
      adminClients.createClient(
        deps,
        { name: 'interop client', kind: 'confidential', scopes: ['read', 'write'], ...input },
        { type: 'admin', id: 'interop-test' },
      ),
    async close() {
      try {
        await running.close();
      } finally {
        await database.drop();
      }
    },
  };
}
