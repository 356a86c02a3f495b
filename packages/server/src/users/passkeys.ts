/**
 * Storage of people's passkeys and security keys (WebAuthn credentials): several per person, each with
 * the signature counter last seen. Never the public key in anything printed: `passkeyView` leaves it out.
 */
import type { Kysely } from 'kysely';
import { isSqlite, rawExec } from '../storage/raw.js';
import type { Database, WebauthnCredentialRow } from '../storage/schema.js';

type Db = Kysely<Database>;

/** A person may hold at most this many credentials (bounds the allow-list sent to browsers). */
export const MAX_PASSKEYS_PER_PERSON = 10;

export interface NewPasskey {
  id: string;
  userId: string;
  publicKey: string;
  counter: number;
  transports: readonly string[];
  deviceType: 'singleDevice' | 'multiDevice';
  name: string;
  now: number;
}

/**
 * Stores a new credential. Returns false when the id is already registered (to anyone) or the person
 * already holds the maximum; nothing is then written. Run it in a transaction: on PostgreSQL the
 * person's row is locked first, so parallel enrolments of one person count one after another (SQLite
 * runs one write transaction at a time).
 */
export async function addPasskey(db: Db, input: NewPasskey): Promise<boolean> {
  if (!isSqlite(db)) {
    await db.selectFrom('users').select('id').where('id', '=', input.userId).forUpdate().execute();
  }
  const existing = await db
    .selectFrom('webauthn_credentials')
    .select('user_id')
    .where((eb) => eb.or([eb('id', '=', input.id), eb('user_id', '=', input.userId)]))
    .execute();
  if (existing.length >= MAX_PASSKEYS_PER_PERSON) return false;
  const taken = await db
    .selectFrom('webauthn_credentials')
    .select('id')
    .where('id', '=', input.id)
    .executeTakeFirst();
  if (taken) return false;
  await db
    .insertInto('webauthn_credentials')
    .values({
      id: input.id,
      user_id: input.userId,
      public_key: input.publicKey,
      counter: input.counter,
      transports: JSON.stringify(input.transports),
      device_type: input.deviceType,
      name: input.name,
      created_at: input.now,
      last_used_at: null,
      disabled_at: null,
      disabled_reason: null,
    })
    .execute();
  return true;
}

/** The person's credentials, oldest first, disabled ones included. */
export async function listPasskeys(db: Db, userId: string): Promise<WebauthnCredentialRow[]> {
  return db
    .selectFrom('webauthn_credentials')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** The person's usable credentials (not disabled). */
export async function usablePasskeys(db: Db, userId: string): Promise<WebauthnCredentialRow[]> {
  return (await listPasskeys(db, userId)).filter((p) => p.disabled_at === null);
}

/**
 * Whether the person has enrolled a passkey, usable or disabled: either way they have a second factor
 * to pass (a disabled passkey leaves them their recovery codes), never a first one to enrol freely.
 */
export async function hasPasskey(db: Db, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('webauthn_credentials')
    .select('id')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Whether the person holds at least one usable (not disabled) passkey. */
export async function hasUsablePasskey(db: Db, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('webauthn_credentials')
    .select('id')
    .where('user_id', '=', userId)
    .where('disabled_at', 'is', null)
    .executeTakeFirst();
  return row !== undefined;
}

/** One usable credential of this person, by id. */
export async function findUsablePasskey(
  db: Db,
  userId: string,
  id: string,
): Promise<WebauthnCredentialRow | undefined> {
  return db
    .selectFrom('webauthn_credentials')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('disabled_at', 'is', null)
    .executeTakeFirst();
}

/**
 * Records a verified use with the authenticator's counter `next` (WebAuthn §6.1.1, §7.2 step 21): the
 * counter must grow, unless both the stored and the new one are 0 (an authenticator that keeps none).
 * One statement: under concurrent calls with the same counter exactly one caller gets true. False means
 * the counter did not grow — a replayed assertion or a cloned authenticator — or the credential is
 * gone or disabled.
 */
export async function recordPasskeyUse(db: Db, id: string, next: number, now: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    `update webauthn_credentials set counter = ?, last_used_at = ?
      where id = ? and disabled_at is null and (counter < ? or (counter = 0 and ? = 0))`,
    [next, now, id, next, next],
  );
  return changed > 0;
}

/** Disables a credential for good (it stays listed, with the reason). Returns whether it was usable. */
export async function disablePasskey(db: Db, id: string, reason: string, now: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    'update webauthn_credentials set disabled_at = ?, disabled_reason = ? where id = ? and disabled_at is null',
    [now, reason, id],
  );
  return changed > 0;
}

/** Renames one of the person's credentials. Returns whether it was theirs. */
export async function renamePasskey(db: Db, userId: string, id: string, name: string): Promise<boolean> {
  const changed = await rawExec(db, 'update webauthn_credentials set name = ? where id = ? and user_id = ?', [
    name,
    id,
    userId,
  ]);
  return changed > 0;
}

/**
 * Removes one of the person's credentials, unless it is their last usable second factor (no TOTP and no
 * other usable passkey): `removed`, `not_found`, or `last_factor` with nothing written. Run it in a
 * transaction: on PostgreSQL the person's row is locked first, so two removals at once cannot each
 * leave the other passkey as the one that remains (SQLite runs one write transaction at a time).
 */
export async function removeOwnPasskey(
  db: Db,
  userId: string,
  id: string,
): Promise<'removed' | 'not_found' | 'last_factor'> {
  let query = db.selectFrom('users').select('totp_secret').where('id', '=', userId);
  if (!isSqlite(db)) query = query.forUpdate();
  const user = await query.executeTakeFirst();
  if (!user) return 'not_found';
  const own = await listPasskeys(db, userId);
  const target = own.find((p) => p.id === id);
  if (!target) return 'not_found';
  const otherUsable = own.some((p) => p.id !== id && p.disabled_at === null);
  if (target.disabled_at === null && user.totp_secret === null && !otherUsable) return 'last_factor';
  await rawExec(db, 'delete from webauthn_credentials where id = ? and user_id = ?', [id, userId]);
  return 'removed';
}

/** Removes every credential of the person (`users reset-mfa`). Returns how many. */
export async function removePasskeys(db: Db, userId: string): Promise<number> {
  return rawExec(db, 'delete from webauthn_credentials where user_id = ?', [userId]);
}

/** What admin commands print about a credential: never the public key. */
export function passkeyView(row: WebauthnCredentialRow): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  return {
    id: row.id,
    name: row.name,
    device_type: row.device_type,
    transports: JSON.parse(row.transports) as string[],
    created_at: iso(row.created_at),
    last_used_at: iso(row.last_used_at),
    disabled_at: iso(row.disabled_at),
    disabled_reason: row.disabled_reason,
  };
}
