/**
 * The `identity_providers` and `identity_links` tables: the one module that reads or writes them. A link
 * ties an upstream `iss` + `sub` to one person (the primary key: never two people for one upstream
 * identity); people are never found by e-mail or name. Each operation takes the database or the
 * transaction it runs in.
 */
import type { Kysely, Updateable } from 'kysely';
import { rawExec } from '../storage/raw.js';
import type {
  Database,
  IdentityLinkRow,
  IdentityProviderRow,
  IdentityProvidersTable,
} from '../storage/schema.js';

type Db = Kysely<Database>;

export async function insertIdentityProvider(db: Db, row: IdentityProviderRow): Promise<void> {
  await db.insertInto('identity_providers').values(row).execute();
}

/** The provider whose id or name is `nameOrId`. */
export async function findIdentityProvider(
  db: Db,
  nameOrId: string,
): Promise<IdentityProviderRow | undefined> {
  return db
    .selectFrom('identity_providers')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', nameOrId), eb('name', '=', nameOrId)]))
    .executeTakeFirst();
}

/** Every provider, oldest first. */
export async function listIdentityProviders(db: Db): Promise<IdentityProviderRow[]> {
  return db.selectFrom('identity_providers').selectAll().orderBy('created_at').orderBy('id').execute();
}

/** Applies `changes` to provider `id` if it was last updated at `updatedAt`; false when it changed meanwhile. */
export async function updateIdentityProvider(
  db: Db,
  id: string,
  updatedAt: number,
  changes: Updateable<IdentityProvidersTable>,
): Promise<boolean> {
  const result = await db
    .updateTable('identity_providers')
    .set(changes)
    .where('id', '=', id)
    .where('updated_at', '=', updatedAt)
    .executeTakeFirst();
  return result.numUpdatedRows !== 0n;
}

/** Deletes provider `id`, its links and its sign-ins under way. Returns the ids of the people it linked. */
export async function deleteIdentityProvider(db: Db, id: string): Promise<string[] | undefined> {
  const linked = await db.selectFrom('identity_links').select('user_id').where('idp_id', '=', id).execute();
  const deleted = await rawExec(db, 'delete from identity_providers where id = ?', [id]);
  if (deleted === 0) return undefined;
  await rawExec(db, 'delete from identity_links where idp_id = ?', [id]);
  await rawExec(db, 'delete from upstream_logins where idp_id = ?', [id]);
  return linked.map((l) => l.user_id);
}

/** The link of an upstream identity, if any. */
export async function findLink(
  db: Db,
  issuer: string,
  subject: string,
): Promise<IdentityLinkRow | undefined> {
  return db
    .selectFrom('identity_links')
    .selectAll()
    .where('issuer', '=', issuer)
    .where('subject', '=', subject)
    .executeTakeFirst();
}

/**
 * Inserts a link. The primary key on (issuer, subject) decides between concurrent first sign-ins of one
 * upstream identity: all but one fail with a unique violation.
 */
export async function insertLink(db: Db, row: IdentityLinkRow): Promise<void> {
  await db.insertInto('identity_links').values(row).execute();
}

/** Records a sign-in through a link. */
export async function touchLink(db: Db, issuer: string, subject: string, now: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    'update identity_links set last_sign_in_at = ? where issuer = ? and subject = ?',
    [now, issuer, subject],
  );
  return changed > 0;
}

/** Removes the link of an upstream identity. False when there was none. */
export async function deleteLink(db: Db, issuer: string, subject: string): Promise<boolean> {
  return (
    (await rawExec(db, 'delete from identity_links where issuer = ? and subject = ?', [issuer, subject])) > 0
  );
}

export interface LinkedPerson extends IdentityLinkRow {
  username: string;
  disabled_at: number | null;
}

/** The links of provider `idpId` with their people, those not used since `before` only when given. */
export async function listLinks(db: Db, idpId: string, before?: number): Promise<LinkedPerson[]> {
  let query = db
    .selectFrom('identity_links')
    .innerJoin('users', 'users.id', 'identity_links.user_id')
    .selectAll('identity_links')
    .select(['users.username', 'users.disabled_at'])
    .where('identity_links.idp_id', '=', idpId);
  if (before !== undefined) {
    query = query.where((eb) =>
      eb.or([
        eb('identity_links.last_sign_in_at', '<', before),
        eb.and([
          eb('identity_links.last_sign_in_at', 'is', null),
          eb('identity_links.created_at', '<', before),
        ]),
      ]),
    );
  }
  return query.orderBy('identity_links.last_sign_in_at').orderBy('users.username').execute();
}

/**
 * The shortest upstream session lifetime (seconds) among the providers person `userId` is linked to;
 * undefined for a person with no link.
 */
export async function upstreamSessionLifetime(db: Db, userId: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('identity_links')
    .innerJoin('identity_providers', 'identity_providers.id', 'identity_links.idp_id')
    .select((eb) => eb.fn.min('identity_providers.session_lifetime_seconds').as('lifetime'))
    .where('identity_links.user_id', '=', userId)
    .executeTakeFirst();
  return row?.lifetime == null ? undefined : Number(row.lifetime);
}

/**
 * Whether a refresh family started by a sign-in at `authTime` has outlived the upstream session lifetime
 * (seconds) of its person's provider: then the person must sign in there again. A family without a
 * sign-in time (from before sign-in times were kept) counts as over.
 */
export function upstreamSessionOver(
  authTime: number | null,
  lifetime: number | undefined,
  now: number,
): boolean {
  if (lifetime === undefined) return false;
  return authTime === null || now >= Number(authTime) + lifetime * 1000;
}
