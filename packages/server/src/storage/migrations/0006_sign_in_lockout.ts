/**
 * Temporary, growing lockouts: `users.locked_until` is when a lock from consecutive failures ends. The
 * older `locked_at` stays the hard lock (set at the failure bound) that only an administrator lifts.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('locked_until', 'bigint').execute();
}
