/**
 * Scoped API keys: the keys themselves, stored only as a keyed hash, and a person's scope
 * ceiling (`users.scopes`, JSON array or null), which bounds the keys made for them.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('owner_type', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('cidrs', 'text')
    .addColumn('max_uses', 'bigint')
    .addColumn('uses', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('rate_limit', 'integer')
    .addColumn('created_by', 'text')
    .addColumn('created_from', 'text')
    .addColumn('last_used_at', 'bigint')
    .addColumn('last_used_ip', 'text')
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_reason', 'text')
    .addColumn('predecessor_id', 'text')
    .addColumn('successor_id', 'text')
    .addColumn('minted_by_jti', 'text')
    .execute();
  await db.schema
    .createIndex('api_keys_owner')
    .ifNotExists()
    .on('api_keys')
    .columns(['owner_type', 'owner_id'])
    .execute();
  await db.schema.createIndex('api_keys_expiry').ifNotExists().on('api_keys').column('expires_at').execute();
  // The idle sweep reads live keys by their last activity.
  await db.schema
    .createIndex('api_keys_activity')
    .ifNotExists()
    .on('api_keys')
    .columns(['revoked_at', 'last_used_at', 'created_at'])
    .execute();

  // (SQLite has no ADD COLUMN IF NOT EXISTS; see 0002 and migrate() for the retry.)
  await db.schema.alterTable('users').addColumn('scopes', 'text').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('api_keys').ifExists().execute();
}
