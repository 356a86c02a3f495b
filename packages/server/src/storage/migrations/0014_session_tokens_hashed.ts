/**
 * Browser sessions are stored by a keyed hash of the token their cookie carries, and without their CSRF
 * token (it is derived from the cookie's token): a copy of the database holds nothing that signs a
 * browser in or passes a form. Rows from before held both in the clear; they are deleted, with the
 * claims on device requests and the upstream sign-ins that named them. A person on the verification
 * pages across the upgrade enters the code again; no token or grant changes.
 */
import { type Kysely, sql } from 'kysely';
import { isSqlite } from '../raw.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
async function forget(db: Kysely<any>): Promise<void> {
  await sql`update device_codes set claimed_by_session = null where claimed_by_session is not null`.execute(
    db,
  );
  await sql`delete from upstream_logins`.execute(db);
  await sql`delete from sessions`.execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: see forget().
export async function up(db: Kysely<any>): Promise<void> {
  // PostgreSQL runs each migration in a transaction of its own; SQLite runs them outside one. The
  // statements are idempotent: a second process running them again finds nothing more to do.
  if (isSqlite(db)) await db.transaction().execute(forget);
  else await forget(db);
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(_db: Kysely<any>): Promise<void> {
  // Nothing to restore: the deleted sessions were transient, and the new rows read as before.
}
