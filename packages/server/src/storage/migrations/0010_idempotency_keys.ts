/**
 * Two guards of the admin API. Update locks: an update holds its resource from the `If-Match` check to
 * the change, so two updates made from the same version cannot both pass (a crashed holder's lock lapses).
 * Idempotency keys of the creates: the first response to (caller, key) is kept for 24 hours
 * so that a retried request gets the same answer, sealed (it may hold a one-time secret) and deleted
 * when it expires. `request_hash` tells a retry from a different request reusing the key.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('caller', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    // null while the first request is being carried out.
    .addColumn('status', 'integer')
    .addColumn('response', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['caller', 'key'])
    .execute();
  await db.schema
    .createIndex('idempotency_keys_expires')
    .on('idempotency_keys')
    .column('expires_at')
    .execute();
  await db.schema
    .createTable('admin_update_locks')
    .addColumn('resource', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('admin_update_locks').execute();
  await db.schema.dropTable('idempotency_keys').execute();
}
