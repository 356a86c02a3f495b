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

/** What token issuance reads of a person: the entitlement columns, and the username for ID tokens. */
export interface ActivePerson {
  username: string;
  is_admin: number;
  scopes: string | null;
}

/**
 * What the entitlement rules read of a person who may still receive tokens; undefined when the account
 * is gone, disabled or locked. Called inside the transaction that mints, so the answer is the one the
 * commit is judged against.
 */
export async function activePerson(db: Kysely<Database>, userId: string): Promise<ActivePerson | undefined> {
  const rows = await rawRows<ActivePerson>(
    db,
    'select username, is_admin, scopes from users where id = ? and disabled_at is null and locked_at is null',
    [userId],
  );
  return rows[0];
}
