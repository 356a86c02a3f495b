/**
 * The admin API's idempotency records name their request by a keyed hash (admin_api/idempotency.ts).
 * Records from before hold an unkeyed SHA-256 of the request, body included, which may carry a password
 * or a client secret: they are retired. Their sealed responses stay; a retry of such a request within
 * its replay window is answered 422 (`idempotency-key-reused`), never carried out a second time.
 */
import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`update idempotency_keys set request_hash = 'retired' where request_hash <> 'retired'`.execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(_db: Kysely<any>): Promise<void> {
  // Nothing to restore: the unkeyed hashes are gone on purpose.
}
