/**
 * Usernames are unique whatever their case: `Ada` and `ada` would otherwise be two people with
 * confusable consent pages, and `createUser`'s check-then-insert could let both in under concurrency.
 * A database that already holds such a pair is refused with the names to fix, rather than guessed at.
 */
import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
export async function up(db: Kysely<any>): Promise<void> {
  const clashes = await sql<{ folded: string; names: string }>`
    select lower(username) as folded, count(*) as names from users
    group by lower(username) having count(*) > 1 order by lower(username)`.execute(db);
  if (clashes.rows.length) {
    const list = clashes.rows
      .slice(0, 10)
      .map((r) => `"${r.folded}" (${Number(r.names)} accounts)`)
      .join(', ');
    throw new Error(
      `usernames must be unique regardless of case, but these differ only in case: ${list}` +
        `${clashes.rows.length > 10 ? ` and ${clashes.rows.length - 10} more` : ''}. ` +
        'Disable and rename (or delete) all but one account of each in the database, then start again.',
    );
  }
  await sql`create unique index if not exists users_username_lower on users (lower(username))`.execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists users_username_lower`.execute(db);
}
