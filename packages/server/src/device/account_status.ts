/** Whether a person may still receive tokens: the account exists, is not disabled, and is not locked. */
import type { Kysely } from 'kysely';
import { rawRows } from '../storage/raw.js';
import type { Database } from '../storage/schema.js';

export async function isAccountActive(db: Kysely<Database>, userId: string): Promise<boolean> {
  const rows = await rawRows(
    db,
    'select 1 as ok from users where id = ? and disabled_at is null and locked_at is null',
    [userId],
  );
  return rows.length > 0;
}
