/**
 * How the person authenticated when approving a device request — when they signed in and with which
 * methods — kept on the request and then on the token family it starts, so an ID token can say so
 * (`auth_time`, `amr`) at redemption and at every refresh.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('device_codes').addColumn('auth_time', 'bigint').execute();
  await db.schema.alterTable('device_codes').addColumn('amr', 'text').execute();
  await db.schema.alterTable('token_families').addColumn('auth_time', 'bigint').execute();
  await db.schema.alterTable('token_families').addColumn('amr', 'text').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['device_codes', 'token_families']) {
    await db.schema.alterTable(table).dropColumn('amr').execute();
    await db.schema.alterTable(table).dropColumn('auth_time').execute();
  }
}
