/**
 * Workload identity federation: trust policies that let a CI job or a Kubernetes pod exchange
 * its platform's signed OIDC token for a short-lived Clavis token of a service principal.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('federations')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('conditions', 'text', (c) => c.notNull())
    .addColumn('jwks', 'text')
    .addColumn('jwks_uri', 'text')
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('max_ttl', 'integer', (c) => c.notNull())
    .addColumn('preset', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('disabled_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('federations_issuer')
    .ifNotExists()
    .on('federations')
    .column('issuer')
    .execute();
  await db.schema
    .createIndex('federations_client')
    .ifNotExists()
    .on('federations')
    .column('client_id')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('federations').ifExists().execute();
}
