/**
 * User codes are stored as a keyed permutation of the code (device/user_code_at_rest.ts), never as the
 * code itself. Rows from before held it in the clear: each is given a placeholder of its own (the column
 * stays unique and not null) that no typed code matches. A request still pending across the upgrade is
 * started again on its device (its code lived at most the device-code lifetime, ten minutes by default).
 */
import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
export async function up(db: Kysely<any>): Promise<void> {
  // Idempotent: stored forms start `uc1.`, placeholders `retired.`.
  await sql`update device_codes set user_code = 'retired.' || id
    where user_code not like 'uc1.%' and user_code not like 'retired.%'`.execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(_db: Kysely<any>): Promise<void> {
  // Nothing to restore: the codes were replaced, and the new stored forms read as any other text.
}
