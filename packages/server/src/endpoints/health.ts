/** Liveness (`/healthz`: the process answers) and readiness (`/readyz`: storage answers, keys loaded). */
import type { FastifyInstance } from 'fastify';
import { type Kysely, sql } from 'kysely';
import type { KeyStore } from '../keys/signing_keys.js';
import type { Database } from '../storage/schema.js';

export function registerHealth(
  app: FastifyInstance,
  deps: { db: Kysely<Database>; keys: KeyStore; isShuttingDown: () => boolean },
): void {
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (deps.isShuttingDown()) return reply.code(503).send({ status: 'shutting_down' });
    try {
      await sql`select 1`.execute(deps.db);
      await deps.keys.current();
      return reply.send({ status: 'ready' });
    } catch {
      return reply.code(503).header('retry-after', '1').send({ status: 'unavailable' });
    }
  });
}
