/**
 * Domain-shaped storage for federations. Functions take a Kysely handle, which may be a transaction,
 * so a change and its audit record commit together.
 */
import type { Kysely } from 'kysely';
import { isSqlite, rawRows } from '../storage/raw.js';
import type { Database, FederationRow, FederationsTable } from '../storage/schema.js';
import { type Federation, federationFromRow } from './federation.js';

type Db = Kysely<Database>;

// Columns named: a prepared statement must not change its result shape under a migration.
const BY_ISSUER_SQL = `select id, name, client_id, issuer, audience, conditions, jwks, jwks_uri, scopes,
    max_ttl, preset, created_at, created_by, disabled_at
  from federations where issuer = ? and disabled_at is null order by id`;

/**
 * The enabled federations that trust `issuer`, in id order. On the path of every exchange: one indexed
 * read, no cache, so a deleted policy stops working at once on every instance.
 */
export async function findEnabledFederationsByIssuer(db: Db, issuer: string): Promise<Federation[]> {
  const rows = await rawRows<FederationRow>(db, BY_ISSUER_SQL, [issuer]);
  return rows.map(federationFromRow);
}

export async function findFederation(db: Db, id: string): Promise<Federation | undefined> {
  const row = await db.selectFrom('federations').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? federationFromRow(row) : undefined;
}

export async function listFederations(db: Db): Promise<Federation[]> {
  const rows = await db.selectFrom('federations').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(federationFromRow);
}

export async function insertFederation(db: Db, row: FederationsTable): Promise<void> {
  await db.insertInto('federations').values(row).execute();
}

/** Deletes a federation. Returns whether it existed. */
export async function deleteFederation(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('federations').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export type FederationChanges = Partial<
  Pick<FederationsTable, 'name' | 'audience' | 'conditions' | 'jwks' | 'jwks_uri' | 'scopes' | 'max_ttl'>
>;

/** The federation, read to be changed: its row locked on PostgreSQL until the transaction ends. */
export async function findFederationForUpdate(tx: Db, id: string): Promise<Federation | undefined> {
  const query = tx.selectFrom('federations').selectAll().where('id', '=', id);
  const row = await (isSqlite(tx) ? query : query.forUpdate()).executeTakeFirst();
  return row ? federationFromRow(row) : undefined;
}

export async function updateFederation(db: Db, id: string, changes: FederationChanges): Promise<void> {
  await db.updateTable('federations').set(changes).where('id', '=', id).execute();
}

/** Disables (a time) or enables (null). False when already in that state or unknown. */
export async function setFederationDisabled(db: Db, id: string, disabledAt: number | null): Promise<boolean> {
  const result = await db
    .updateTable('federations')
    .set({ disabled_at: disabledAt })
    .where('id', '=', id)
    .where('disabled_at', disabledAt === null ? 'is not' : 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
