/**
 * Counts the statements a PostgreSQL handle sends (every `query` on every pooled connection, including
 * transaction control and savepoints): how many round trips a request costs.
 */
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { pgPoolOf } from '../../packages/server/src/storage/raw.js';

export interface StatementCounter {
  /** Statements sent since the counter was made, or last reset. */
  readonly count: number;
  /** Their texts, in order (for a failing assertion's message). */
  readonly texts: string[];
  reset(): void;
}

// biome-ignore lint/suspicious/noExplicitAny: any root handle, whatever its schema.
export function countStatements(db: Kysely<any>): StatementCounter {
  const pool = pgPoolOf(db);
  if (!pool) throw new Error('not a root PostgreSQL handle');
  const texts: string[] = [];
  const patched = new WeakSet<pg.PoolClient>();
  const watch = (client: pg.PoolClient) => {
    if (patched.has(client)) return;
    patched.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    // biome-ignore lint/suspicious/noExplicitAny: forwards every overload of pg's query() unchanged.
    (client as any).query = (...args: unknown[]) => {
      const first = args[0] as string | { text?: string; name?: string };
      texts.push(typeof first === 'string' ? first : (first.text ?? first.name ?? '?'));
      return query(...args);
    };
  };
  pool.on('acquire', watch);
  return {
    get count() {
      return texts.length;
    },
    texts,
    reset() {
      texts.length = 0;
    },
  };
}
