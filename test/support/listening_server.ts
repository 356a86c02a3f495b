/**
 * A real Clavis server listening on a loopback port, for the SDK's and the CLI's tests: `startServer` (what `clavis serve` runs) on a loopback
 * port over a fresh SQLite file, with the admin use cases bound to it to create people, clients,
 * federations and API keys. The SDK talks to it over TCP, as it would in production.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  adminApiKeys,
  adminClients,
  adminFederations,
  adminUsers,
  createLogger,
  listAudit,
  type RunningServer,
  type ServerConfig,
  startServer,
} from '@clavis/server';
import { freePort } from './free_port.js';
import { PASSWORD } from './users.js';

export { freePort, PASSWORD };

const actor = { type: 'admin', id: 'sdk-test' } as const;

export interface TestServer {
  issuer: string;
  running: RunningServer;
  dir: string;
  createUser(username: string): Promise<{ totpSecret: string }>;
  createClient(
    input: Partial<adminClients.CreateClientInput>,
  ): Promise<{ clientId: string; secret?: string }>;
  createFederation(input: adminFederations.CreateFederationInput): Promise<string>;
  createApiKey(owner: string, scopes: string[]): Promise<string>;
  /** Audit records of `event`, newest first. */
  audit(event: string): Promise<Array<{ event: string; outcome: string; detail: Record<string, unknown> }>>;
  close(): Promise<void>;
}

export async function startTestServer(
  config: Partial<Omit<ServerConfig, 'issuer'>> = {},
): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'clavis-sdk-server-'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const running = await startServer({
    dbUrl: `sqlite:${join(dir, 'clavis.db')}`,
    port,
    host: '127.0.0.1',
    issuer,
    kekFile: join(dir, 'clavis.kek'),
    adminPassword: 'sdk-test-admin-password',
    logger: createLogger('silent'),
    config: { devicePollIntervalSeconds: 1, ...config },
  });
  const { services, config: resolved } = running;
  const deps = {
    db: services.db,
    audit: services.audit,
    hasher: services.hasher,
    clock: resolved.clock,
    maxAccessTokenTtlSeconds: resolved.maxAccessTokenTtlSeconds,
    defaultAccessTokenTtlSeconds: resolved.defaultAccessTokenTtlSeconds,
  };
  return {
    issuer,
    running,
    dir,
    async createUser(username) {
      const created = await adminUsers.createUser(
        { ...deps, totpKey: services.totpKey },
        { username, password: PASSWORD, totp: true },
        actor,
      );
      return { totpSecret: created.totpSecret ?? '' };
    },
    async createClient(input) {
      const { client, secret } = await adminClients.createClient(
        deps,
        { name: 'sdk test client', kind: 'confidential', scopes: ['invoices:read'], ...input },
        actor,
      );
      return { clientId: client.id, ...(secret ? { secret } : {}) };
    },
    async createFederation(input) {
      const federation = await adminFederations.createFederation(deps, input, actor);
      return federation.id;
    },
    async createApiKey(owner, scopes) {
      const created = await adminApiKeys.createApiKey(
        { ...deps, apiKeyMaxTtlSeconds: resolved.apiKeyMaxTtlSeconds },
        { owner, scopes, ttlSeconds: 3600 },
        actor,
      );
      return created.plaintext;
    },
    async audit(event) {
      return listAudit(services.db, { event });
    },
    async close() {
      try {
        await running.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
