/**
 * Single sign-on through upstream OpenID Connect providers: the providers an administrator configured
 * (client secret sealed under the KEK), the links from an upstream `iss` + `sub` to a person, the
 * short-lived state of a sign-in under way, and what a session's sign-in asserted (its `amr`, and
 * through which provider).
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('identity_providers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('client_secret', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('claim_username', 'text', (c) => c.notNull())
    .addColumn('claim_email', 'text', (c) => c.notNull())
    .addColumn('claim_groups', 'text', (c) => c.notNull())
    .addColumn('allowed_groups', 'text')
    .addColumn('mfa_from_amr', 'integer', (c) => c.notNull())
    .addColumn('mfa_acr_values', 'text', (c) => c.notNull())
    .addColumn('local_passwords', 'integer', (c) => c.notNull())
    .addColumn('session_lifetime_seconds', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('identity_links')
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('idp_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_sign_in_at', 'bigint')
    .addPrimaryKeyConstraint('identity_links_pk', ['issuer', 'subject'])
    .execute();
  await db.schema.createIndex('identity_links_user').on('identity_links').column('user_id').execute();
  await db.schema.createIndex('identity_links_idp').on('identity_links').column('idp_id').execute();
  await db.schema
    .createTable('upstream_logins')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('device_code_id', 'text')
    .addColumn('idp_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('upstream_logins_expiry').on('upstream_logins').column('expires_at').execute();
  await db.schema.alterTable('sessions').addColumn('idp_id', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('sign_in_amr', 'text').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('sign_in_amr').execute();
  await db.schema.alterTable('sessions').dropColumn('idp_id').execute();
  await db.schema.dropTable('upstream_logins').ifExists().execute();
  await db.schema.dropTable('identity_links').ifExists().execute();
  await db.schema.dropTable('identity_providers').ifExists().execute();
}
