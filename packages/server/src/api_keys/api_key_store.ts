/**
 * Storage of API keys, domain-shaped. Keys are found by the keyed hash of the whole plaintext, so an
 * unknown key and a wrong key are the same lookup with the same (empty) result. Every guarded
 * transition — consuming a use, revoking — is one conditional statement: under concurrent calls on the
 * same row, on one instance or many, exactly one caller gets it.
 */
import type { Kysely } from 'kysely';
import { type Client, clientFromRow } from '../clients/client.js';
import { rawExec, rawRows } from '../storage/raw.js';
import type { ApiKeyOwnerType, ApiKeysTable, ClientRow, Database } from '../storage/schema.js';
import { nothing, type Statement, type StepResult, type StoreOp, statement } from '../storage/store_op.js';

type Db = Kysely<Database>;

/** A stored key, as verification and administration use it. */
export interface ApiKeyRecord {
  id: string;
  ownerType: ApiKeyOwnerType;
  ownerId: string;
  name: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number;
  cidrs: string[] | null;
  /** The stored JSON of `cidrs`, the key of the parsed allow-list cache. */
  cidrsJson: string | null;
  maxUses: number | null;
  uses: number;
  rateLimit: number | null;
  createdBy: string | null;
  createdFrom: string | null;
  lastUsedAt: number | null;
  lastUsedIp: string | null;
  revokedAt: number | null;
  revokedReason: string | null;
  predecessorId: string | null;
  successorId: string | null;
  mintedByJti: string | null;
}

type StoredRow = Omit<ApiKeysTable, 'uses'> & { uses: number | string };

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toRecord(row: StoredRow): ApiKeyRecord {
  return {
    id: row.id,
    ownerType: row.owner_type,
    ownerId: row.owner_id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: num(row.created_at),
    expiresAt: num(row.expires_at),
    cidrs: row.cidrs ? (JSON.parse(row.cidrs) as string[]) : null,
    cidrsJson: row.cidrs,
    maxUses: numOrNull(row.max_uses),
    uses: num(row.uses),
    rateLimit: numOrNull(row.rate_limit),
    createdBy: row.created_by,
    createdFrom: row.created_from,
    lastUsedAt: numOrNull(row.last_used_at),
    lastUsedIp: row.last_used_ip,
    revokedAt: numOrNull(row.revoked_at),
    revokedReason: row.revoked_reason,
    predecessorId: row.predecessor_id,
    successorId: row.successor_id,
    mintedByJti: row.minted_by_jti,
  };
}

export type NewApiKey = Omit<ApiKeysTable, 'uses'>;

export async function insertApiKey(db: Db, row: NewApiKey): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({ ...row, uses: 0 })
    .execute();
}

const COLUMNS = `id, key_hash, owner_type, owner_id, name, scopes, created_at, expires_at, cidrs, max_uses,
  uses, rate_limit, created_by, created_from, last_used_at, last_used_ip, revoked_at, revoked_reason,
  predecessor_id, successor_id, minted_by_jti`;
const BY_ID_SQL = `select ${COLUMNS} from api_keys where id = ?`;

export async function findApiKeyById(db: Db, id: string): Promise<ApiKeyRecord | undefined> {
  const rows = await rawRows<StoredRow>(db, BY_ID_SQL, [id]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** What verification needs of a key's owner, read with the key. */
export type StoredOwner =
  | { type: 'client'; client: Client }
  | { type: 'user'; id: string; username: string; scopes: string[] | null; active: boolean }
  | undefined;

// Columns named, not `*`: a prepared statement must not change its result shape under a migration.
const WITH_OWNER_SQL = `select k.id, k.key_hash, k.owner_type, k.owner_id, k.name, k.scopes, k.created_at,
    k.expires_at, k.cidrs, k.max_uses, k.uses, k.rate_limit, k.created_by, k.created_from, k.last_used_at,
    k.last_used_ip, k.revoked_at, k.revoked_reason, k.predecessor_id, k.successor_id, k.minted_by_jti,
    c.id as c_id, c.name as c_name, c.owner as c_owner, c.kind as c_kind, c.auth_method as c_auth_method,
    c.grant_types as c_grant_types, c.scopes as c_scopes, c.audiences as c_audiences, c.jwks as c_jwks,
    c.jwks_uri as c_jwks_uri, c.token_ttl as c_token_ttl, c.created_at as c_created_at,
    c.created_by as c_created_by, c.disabled_at as c_disabled_at, c.require_mfa as c_require_mfa,
    c.refresh_idle_ttl as c_refresh_idle_ttl, c.refresh_absolute_ttl as c_refresh_absolute_ttl,
    u.username as u_username, u.scopes as u_scopes, u.disabled_at as u_disabled_at, u.locked_at as u_locked_at
  from api_keys k
  left join clients c on k.owner_type = 'client' and c.id = k.owner_id
  left join users u on k.owner_type = 'user' and u.id = k.owner_id
  where k.key_hash = ?`;

type Prefixed<T, P extends string> = { [K in keyof T as `${P}${K & string}`]: T[K] | null };
type WithOwnerRow = StoredRow &
  Prefixed<ClientRow, 'c_'> & {
    u_username: string | null;
    u_scopes: string | null;
    u_disabled_at: number | string | null;
    u_locked_at: number | string | null;
  };

/** The `c_`-prefixed columns of a joined row, as the client row they were read from. */
function clientColumns(row: WithOwnerRow): ClientRow {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) if (name.startsWith('c_')) out[name.slice(2)] = value;
  return out as unknown as ClientRow;
}

function ownerFrom(row: WithOwnerRow): StoredOwner {
  if (row.owner_type === 'client') {
    return row.c_id === null ? undefined : { type: 'client', client: clientFromRow(clientColumns(row)) };
  }
  if (row.u_username === null) return undefined;
  return {
    type: 'user',
    id: row.owner_id,
    username: row.u_username,
    scopes: row.u_scopes ? (JSON.parse(row.u_scopes) as string[]) : null,
    active: row.u_disabled_at === null && row.u_locked_at === null,
  };
}

/**
 * The key whose keyed hash is `keyHash` and its owner as they stand, in one indexed lookup: on every
 * verification, so one round trip rather than two.
 */
export async function findApiKeyWithOwnerByHash(
  db: Db,
  keyHash: string,
): Promise<{ key: ApiKeyRecord; owner: StoredOwner } | undefined> {
  const rows = await rawRows<WithOwnerRow>(db, WITH_OWNER_SQL, [keyHash]);
  const row = rows[0];
  return row ? { key: toRecord(row), owner: ownerFrom(row) } : undefined;
}

const LIVE_SQL = `select 1 as live from api_keys k
  left join clients c on k.owner_type = 'client' and c.id = k.owner_id
  left join users u on k.owner_type = 'user' and u.id = k.owner_id
  where k.id = ? and k.revoked_at is null
    and ((c.id is not null and c.disabled_at is null)
      or (u.id is not null and u.disabled_at is null and u.locked_at is null))`;

/**
 * Whether the tokens exchanged from key `id` may still be honoured: the key exists and is not revoked
 * (leak report, administrator, idle sweep), and its owner is active. Read from storage every time, so
 * a revocation committed by any instance or process counts at once. Expiry is not checked: a token's
 * lifetime never reaches past its key's at the time of the exchange.
 */
export async function isApiKeyLive(db: Db, id: string): Promise<boolean> {
  const rows = await rawRows(db, LIVE_SQL, [id]);
  return rows.length > 0;
}

const CONSUME_SQL = `update api_keys set uses = uses + 1, last_used_at = ?, last_used_ip = ?
  where id = ? and max_uses is not null and uses < max_uses and revoked_at is null and expires_at > ?
  returning uses, max_uses`;

/**
 * Consumes one use of a key with a use limit. One conditional UPDATE: under concurrent calls on the same
 * key — on one instance or many, SQLite or PostgreSQL — exactly as many callers succeed as uses remain.
 * Returns the uses left after this one, or null when none was left (or the key was revoked or expired
 * meanwhile).
 */
export function consumeApiKeyUse(id: string, now: number, ip: string | null): StoreOp<number | null> {
  return statement(CONSUME_SQL, [now, ip, id, now], usesLeft);
}

function usesLeft({ rows }: StepResult): number | null {
  const row = rows[0] as { uses: number | string; max_uses: number | string } | undefined;
  return row ? Number(row.max_uses) - Number(row.uses) : null;
}

const ADD_USAGE_SQL = `update api_keys set uses = uses + ?,
  last_used_ip = case when last_used_at is null or last_used_at <= ? then ? else last_used_ip end,
  last_used_at = case when last_used_at is null or last_used_at <= ? then ? else last_used_at end
  where id = ?`;

/**
 * Adds `count` uses to an unlimited key and moves its last use forward (never back). Additive, so
 * instances adding to the same key at once all count.
 */
export function addApiKeyUsage(entry: {
  id: string;
  count: number;
  lastUsedAt: number;
  lastUsedIp: string | null;
}): Statement<void> {
  return statement(
    ADD_USAGE_SQL,
    [entry.count, entry.lastUsedAt, entry.lastUsedIp, entry.lastUsedAt, entry.lastUsedAt, entry.id],
    nothing,
  );
}

/**
 * Revokes a live key. Under concurrent calls exactly one gets `true`; a key already revoked is left as
 * it was (its first reason stands).
 */
export async function revokeApiKey(db: Db, id: string, reason: string, now: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    'update api_keys set revoked_at = ?, revoked_reason = ? where id = ? and revoked_at is null',
    [now, reason, id],
  );
  return changed > 0;
}

/**
 * Revokes the unexpired, unrevoked key with this hash (a leak report). Returns its id if this call
 * revoked it.
 */
export async function revokeLiveApiKeyByHash(
  db: Db,
  keyHash: string,
  reason: string,
  now: number,
): Promise<string | null> {
  const rows = await rawRows<{ id: string }>(
    db,
    `update api_keys set revoked_at = ?, revoked_reason = ?
      where key_hash = ? and revoked_at is null and expires_at > ? returning id`,
    [now, reason, keyHash, now],
  );
  return rows[0]?.id ?? null;
}

/** Live keys last used (or, never used, created) before `cutoff`: candidates for the idle sweep. */
export async function findIdleApiKeys(db: Db, cutoff: number, now: number, limit: number): Promise<string[]> {
  const rows = await rawRows<{ id: string }>(
    db,
    `select id from api_keys where revoked_at is null and expires_at > ?
      and coalesce(last_used_at, created_at) < ? order by id limit ?`,
    [now, cutoff, limit],
  );
  return rows.map((r) => r.id);
}

/** Revokes one key as idle if it still is. Exactly one of several concurrent sweeps gets `true`. */
export async function revokeIfIdle(db: Db, id: string, cutoff: number, now: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    `update api_keys set revoked_at = ?, revoked_reason = 'idle'
      where id = ? and revoked_at is null and coalesce(last_used_at, created_at) < ?`,
    [now, id, cutoff],
  );
  return changed > 0;
}

/** Links a rotated key to its successor and cuts its life short to `expiresAt` (never lengthens it). */
export async function linkSuccessor(
  db: Db,
  id: string,
  successorId: string,
  expiresAt: number,
): Promise<boolean> {
  const changed = await rawExec(
    db,
    `update api_keys set successor_id = ?,
       expires_at = case when expires_at < ? then expires_at else ? end
      where id = ? and successor_id is null and revoked_at is null`,
    [successorId, expiresAt, expiresAt, id],
  );
  return changed > 0;
}

export async function listApiKeys(
  db: Db,
  filter: { ownerType?: ApiKeyOwnerType; ownerId?: string; liveAt?: number },
): Promise<ApiKeyRecord[]> {
  let q = db.selectFrom('api_keys').selectAll();
  if (filter.ownerType && filter.ownerId)
    q = q.where('owner_type', '=', filter.ownerType).where('owner_id', '=', filter.ownerId);
  if (filter.liveAt !== undefined)
    q = q.where('revoked_at', 'is', null).where('expires_at', '>', filter.liveAt);
  const rows = await q.orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => toRecord(r as StoredRow));
}

export type ApiKeyLimitChanges = Partial<
  Pick<ApiKeysTable, 'cidrs' | 'max_uses' | 'rate_limit' | 'expires_at' | 'scopes'>
>;

/**
 * Changes a live key's limits. A new expiry only ever moves it earlier, also against a concurrent change.
 * False when the key was revoked, or its expiry moved at least as early, meanwhile (nothing then changes).
 */
export async function updateApiKeyLimits(db: Db, id: string, changes: ApiKeyLimitChanges): Promise<boolean> {
  let query = db.updateTable('api_keys').set(changes).where('id', '=', id).where('revoked_at', 'is', null);
  if (changes.expires_at !== undefined) query = query.where('expires_at', '>', changes.expires_at);
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Of the given owners, those that cannot use keys now: disabled clients, disabled or locked people. */
export async function findUnusableOwners(
  db: Db,
  clientIds: readonly string[],
  userIds: readonly string[],
): Promise<Set<string>> {
  const out = new Set<string>();
  if (clientIds.length > 0) {
    const rows = await db
      .selectFrom('clients')
      .select('id')
      .where('id', 'in', clientIds)
      .where('disabled_at', 'is not', null)
      .execute();
    for (const r of rows) out.add(`client:${r.id}`);
  }
  if (userIds.length > 0) {
    const rows = await db
      .selectFrom('users')
      .select('id')
      .where('id', 'in', userIds)
      .where((eb) => eb.or([eb('disabled_at', 'is not', null), eb('locked_at', 'is not', null)]))
      .execute();
    for (const r of rows) out.add(`user:${r.id}`);
  }
  return out;
}
