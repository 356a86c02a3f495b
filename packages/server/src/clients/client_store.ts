/**
 * Domain-shaped storage for clients and their secrets. Functions take a Kysely handle, which may be a
 * transaction, so a change and its audit record commit together.
 */
import type { Kysely } from 'kysely';
import { isSqlite, rawRows } from '../storage/raw.js';
import type { ClientRow, ClientSecretRow, Database, NewClientRow } from '../storage/schema.js';
import { type Client, clientFromRow } from './client.js';

type Db = Kysely<Database>;

export async function findClient(db: Db, id: string): Promise<Client | undefined> {
  const row = await db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? clientFromRow(row) : undefined;
}

// Columns named, not `c.*`: a prepared statement must not change its result shape under a migration.
const CLIENT_WITH_SECRETS_SQL = `select c.id, c.name, c.owner, c.kind, c.auth_method, c.grant_types, c.scopes,
    c.audiences, c.jwks, c.jwks_uri, c.token_ttl, c.created_at, c.created_by, c.disabled_at,
    c.require_mfa, c.refresh_idle_ttl, c.refresh_absolute_ttl,
    s.id as secret_id, s.hash as secret_hash,
    s.created_at as secret_created_at, s.expires_at as secret_expires_at
  from clients c left join client_secrets s on s.client_id = c.id and s.revoked_at is null
  where c.id = ?`;

type ClientWithSecretRow = ClientRow & {
  secret_id: string | null;
  secret_hash: string | null;
  secret_created_at: number | null;
  secret_expires_at: number | null;
};

/**
 * The client and its secrets that are not revoked, in one round trip: this is on the path of every
 * authenticated request. Expired secrets are included; `liveSecrets` drops them at the moment of use.
 */
export async function findClientWithSecrets(
  db: Db,
  id: string,
): Promise<{ client: Client; secrets: ClientSecretRow[] } | undefined> {
  const rows = await rawRows<ClientWithSecretRow>(db, CLIENT_WITH_SECRETS_SQL, [id]);
  const first = rows[0];
  if (!first) return undefined;
  const secrets: ClientSecretRow[] = [];
  for (const r of rows) {
    if (r.secret_id === null || r.secret_hash === null || r.secret_created_at === null) continue;
    secrets.push({
      id: r.secret_id,
      client_id: id,
      hash: r.secret_hash,
      created_at: Number(r.secret_created_at),
      expires_at: r.secret_expires_at === null ? null : Number(r.secret_expires_at),
      revoked_at: null,
    });
  }
  return { client: clientFromRow(first), secrets };
}

/** Whether the client exists and is not disabled. */
export async function isClientActive(db: Db, id: string): Promise<boolean> {
  const rows = await rawRows(db, 'select 1 as active from clients where id = ? and disabled_at is null', [
    id,
  ]);
  return rows.length > 0;
}

/** The secrets that may be used at `now`. */
export function liveSecrets(secrets: readonly ClientSecretRow[], now: number): ClientSecretRow[] {
  return secrets.filter((s) => s.revoked_at === null && (s.expires_at === null || s.expires_at > now));
}

export async function listClients(db: Db): Promise<Client[]> {
  const rows = await db.selectFrom('clients').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(clientFromRow);
}

export async function insertClient(db: Db, row: NewClientRow): Promise<void> {
  await db.insertInto('clients').values(row).execute();
}

/** Deletes a client, its secrets and its federations. Returns whether it existed. */
export async function deleteClient(db: Db, id: string): Promise<boolean> {
  await db.deleteFrom('client_secrets').where('client_id', '=', id).execute();
  // A deleted principal's trust policies go with it, so a later client given the same id never
  // inherits them.
  await db.deleteFrom('federations').where('client_id', '=', id).execute();
  const result = await db.deleteFrom('clients').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function insertClientSecret(
  db: Db,
  secret: { id: string; clientId: string; hash: string; createdAt: number; expiresAt: number | null },
): Promise<void> {
  await db
    .insertInto('client_secrets')
    .values({
      id: secret.id,
      client_id: secret.clientId,
      hash: secret.hash,
      created_at: secret.createdAt,
      expires_at: secret.expiresAt,
      revoked_at: null,
    })
    .execute();
}

/**
 * Makes every current secret of the client expire at `expiresAt` (unless it already expires sooner):
 * the overlap window of a rotation.
 */
export async function expireClientSecrets(db: Db, clientId: string, expiresAt: number): Promise<number> {
  const result = await db
    .updateTable('client_secrets')
    .set({ expires_at: expiresAt })
    .where('client_id', '=', clientId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', expiresAt)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * The client, read to be changed: on PostgreSQL its row is locked until the transaction ends, so two
 * concurrent updates of one client apply one after the other (SQLite's write transaction already
 * excludes every other writer).
 */
export async function findClientForUpdate(tx: Db, id: string): Promise<Client | undefined> {
  const query = tx.selectFrom('clients').selectAll().where('id', '=', id);
  const row = await (isSqlite(tx) ? query : query.forUpdate()).executeTakeFirst();
  return row ? clientFromRow(row) : undefined;
}

export type ClientChanges = Partial<
  Pick<
    ClientRow,
    | 'name'
    | 'owner'
    | 'grant_types'
    | 'scopes'
    | 'audiences'
    | 'token_ttl'
    | 'require_mfa'
    | 'refresh_idle_ttl'
    | 'refresh_absolute_ttl'
  >
>;

export async function updateClient(db: Db, id: string, changes: ClientChanges): Promise<void> {
  await db.updateTable('clients').set(changes).where('id', '=', id).execute();
}

/**
 * Disables (`disabledAt` a time) or enables (null) a client. False when it was already in that state
 * or does not exist: under concurrent calls exactly one caller gets true.
 */
export async function setClientDisabled(db: Db, id: string, disabledAt: number | null): Promise<boolean> {
  const result = await db
    .updateTable('clients')
    .set({ disabled_at: disabledAt })
    .where('id', '=', id)
    .where('disabled_at', disabledAt === null ? 'is not' : 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** The client's secrets (never their hashes), oldest first. */
export async function listClientSecrets(
  db: Db,
  clientId: string,
): Promise<Omit<ClientSecretRow, 'hash' | 'client_id'>[]> {
  const rows = await db
    .selectFrom('client_secrets')
    .select(['id', 'created_at', 'expires_at', 'revoked_at'])
    .where('client_id', '=', clientId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    created_at: Number(r.created_at),
    expires_at: r.expires_at === null ? null : Number(r.expires_at),
    revoked_at: r.revoked_at === null ? null : Number(r.revoked_at),
  }));
}

/** Revokes one secret of the client at `now`. False when it is unknown or already revoked. */
export async function revokeClientSecret(
  db: Db,
  clientId: string,
  secretId: string,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('client_secrets')
    .set({ revoked_at: now })
    .where('id', '=', secretId)
    .where('client_id', '=', clientId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
