/**
 * The Device Authorization Grant (RFC 8628) and what it rests on: pending device codes, browser
 * sessions, refresh-token families, second factors and sign-in throttling.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('device_codes')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('device_code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_code', 'text', (c) => c.notNull().unique())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('interval', 'integer', (c) => c.notNull())
    .addColumn('last_polled_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('requester_ip', 'text')
    .addColumn('requester_user_agent', 'text')
    .addColumn('claimed_by_session', 'text')
    .addColumn('user_id', 'text')
    .addColumn('decided_at', 'bigint')
    .addColumn('consumed_at', 'bigint')
    .addColumn('family_id', 'text')
    .execute();
  await db.schema
    .createIndex('device_codes_expiry')
    .ifNotExists()
    .on('device_codes')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('sessions')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('password_at', 'bigint')
    .addColumn('mfa_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_expiry').ifNotExists().on('sessions').column('expires_at').execute();

  await db.schema
    .createTable('token_families')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_reason', 'text')
    .execute();

  await db.schema
    .createTable('refresh_tokens')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('family_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('idle_expires_at', 'bigint', (c) => c.notNull())
    .addColumn('rotated_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('refresh_tokens_family')
    .ifNotExists()
    .on('refresh_tokens')
    .column('family_id')
    .execute();

  await db.schema
    .createTable('family_access_tokens')
    .ifNotExists()
    .addColumn('jti', 'text', (c) => c.primaryKey())
    .addColumn('family_id', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('family_access_tokens_family')
    .ifNotExists()
    .on('family_access_tokens')
    .column('family_id')
    .execute();

  await db.schema
    .createTable('recovery_codes')
    .ifNotExists()
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();

  // Per-client policy for people's tokens, and per-user sign-in state. (SQLite has no ADD COLUMN IF NOT
  // EXISTS; a process racing another through this migration fails here and retries, see migrate().)
  await db.schema
    .alterTable('clients')
    .addColumn('require_mfa', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('clients').addColumn('refresh_idle_ttl', 'integer').execute();
  await db.schema.alterTable('clients').addColumn('refresh_absolute_ttl', 'integer').execute();
  await db.schema
    .alterTable('users')
    .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('users')
    .addColumn('failed_mfa', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('users').addColumn('locked_at', 'bigint').execute();
  await db.schema.alterTable('users').addColumn('totp_last_step', 'bigint').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'recovery_codes',
    'family_access_tokens',
    'refresh_tokens',
    'token_families',
    'sessions',
    'device_codes',
  ]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
