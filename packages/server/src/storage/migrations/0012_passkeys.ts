/**
 * Passkeys and security keys (WebAuthn) as a second factor: one row per credential, several per person,
 * with the signature counter kept for clone detection; and on the verification pages' sessions, which
 * second factor was passed (a client may require a phishing-resistant one) and the one pending WebAuthn
 * challenge (single use).
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webauthn_credentials')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('transports', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('device_type', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('disabled_at', 'bigint')
    .addColumn('disabled_reason', 'text')
    .execute();
  await db.schema
    .createIndex('webauthn_credentials_user')
    .on('webauthn_credentials')
    .column('user_id')
    .execute();
  await db.schema.alterTable('sessions').addColumn('mfa_method', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('webauthn_challenge', 'text').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('webauthn_challenge').execute();
  await db.schema.alterTable('sessions').dropColumn('mfa_method').execute();
  await db.schema.dropIndex('webauthn_credentials_user').execute();
  await db.schema.dropTable('webauthn_credentials').execute();
}
