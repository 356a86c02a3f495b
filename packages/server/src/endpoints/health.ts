/** Liveness (`/healthz`: the process answers) and readiness (`/readyz`: storage answers in time, keys loaded). */
import type { FastifyInstance } from 'fastify';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../storage/schema.js';
import type { StorageHealth } from '../storage/storage_health.js';
import type { KeyStore } from '../tokens/signing_keys.js';

/**
 * How long `/readyz` waits for storage before answering 503. Shorter than the storage timeouts and
 * than a probe's own timeout: a hanging database (locked, partitioned, its pool taken by hung requests)
 * must read as "not ready", not as a probe that got no answer.
 */
export const READY_DEADLINE_MS = 1000;

export function registerHealth(
  app: FastifyInstance,
  deps: {
    db: Kysely<Database>;
    keys: KeyStore;
    isShuttingDown: () => boolean;
    /** Told when storage answers, so an outage's end is noticed (and logged) at once. */
    storageHealth?: StorageHealth | undefined;
  },
): void {
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (deps.isShuttingDown()) {
      return reply.code(503).header('retry-after', '1').send({ status: 'shutting_down' });
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('storage did not answer in time')), READY_DEADLINE_MS);
    });
    try {
      const check = (async () => {
        // A read every token request makes (client lookup), not just `select 1`: a table locked by
        // another session leaves the database answering while no request can be served.
        await sql`select 1 from clients limit 1`.execute(deps.db);
        await deps.keys.current();
      })();
      // The check keeps running after the deadline; its outcome no longer matters.
      check.catch(() => {});
      await Promise.race([check, deadline]);
      deps.storageHealth?.answered();
      return reply.send({ status: 'ready' });
    } catch {
      return reply.code(503).header('retry-after', '1').send({ status: 'unavailable' });
    } finally {
      clearTimeout(timer);
    }
  });
}
