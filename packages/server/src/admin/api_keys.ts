/**
 * Administering API keys: create, list, show, update limits, rotate (with overlap), revoke. Shared by `clavis admin
 * --db` and (later) the admin API. Every change commits with its audit record; the plaintext key is
 * returned once, by `createApiKey` and `rotateApiKey`, and appears in no view, log line or audit record.
 */
import type { Kysely } from 'kysely';
import {
  type ApiKeyLimitChanges,
  type ApiKeyRecord,
  findApiKeyById,
  findUnusableOwners,
  insertApiKey,
  linkSuccessor,
  listApiKeys as listApiKeyRecords,
  revokeApiKey as revokeApiKeyRow,
  updateApiKeyLimits,
} from '../api_keys/api_key_store.js';
import {
  ApiKeyRuleError,
  checkCidrs,
  checkMaxUses,
  checkRateLimit,
  newApiKey,
  type ResolvedOwner,
  resolveOwner,
  resolveOwnerById,
} from '../api_keys/issue_api_key.js';
import { USER_OWNER_PREFIX } from '../api_keys/owner.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { SecretHasher } from '../crypto/secrets.js';
import type { Database } from '../storage/schema.js';
import { findUserIdByUsername, findUsernames } from '../users/user_store.js';
import { type Actor, actorFields, recordingRefusal } from './actor.js';
import { AdminError } from './errors.js';

export interface ApiKeyAdminDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  hasher: SecretHasher;
  clock: () => number;
  /** The server-wide maximum lifetime of a key (config `apiKeyMaxTtlSeconds`). */
  apiKeyMaxTtlSeconds: number;
}

/** Rotation overlap when none is given: a working day for the old key's users to switch. */
const DEFAULT_ROTATION_GRACE_SECONDS = 24 * 3600;

/** `owner_disabled`: the key is otherwise live but its owner is disabled (or locked), so it does not work. */
export type ApiKeyState = 'active' | 'expired' | 'revoked' | 'exhausted' | 'owner_disabled';

/** A key as administrators see it (snake_case, as the CLI prints it). Never the key or its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  owner: string;
  owner_type: 'client' | 'user';
  owner_id: string;
  scopes: string[];
  state: ApiKeyState;
  created_at: string;
  expires_at: string;
  cidrs: string[] | null;
  max_uses: number | null;
  uses: number;
  rate_limit: number | null;
  created_by: string | null;
  created_from: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
  revoked_at: string | null;
  revoked_reason: string | null;
  predecessor_id: string | null;
  successor_id: string | null;
  minted_by_jti: string | null;
}

export interface CreateApiKeyInput {
  /** A client id, or `user:USERNAME`. */
  owner: string;
  scopes: string[];
  ttlSeconds: number;
  name?: string;
  cidrs?: string[];
  maxUses?: number;
  rateLimit?: number;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function stateOf(key: ApiKeyRecord, ownerUsable: boolean, now: number): ApiKeyState {
  if (key.revokedAt !== null) return 'revoked';
  if (key.expiresAt <= now) return 'expired';
  if (key.maxUses !== null && key.uses >= key.maxUses) return 'exhausted';
  return ownerUsable ? 'active' : 'owner_disabled';
}

function toView(key: ApiKeyRecord, ownerLabel: string, ownerUsable: boolean, now: number): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    owner: ownerLabel,
    owner_type: key.ownerType,
    owner_id: key.ownerId,
    scopes: key.scopes,
    state: stateOf(key, ownerUsable, now),
    created_at: iso(key.createdAt) ?? '',
    expires_at: iso(key.expiresAt) ?? '',
    cidrs: key.cidrs,
    max_uses: key.maxUses,
    uses: key.uses,
    rate_limit: key.rateLimit,
    created_by: key.createdBy,
    created_from: key.createdFrom,
    last_used_at: iso(key.lastUsedAt),
    last_used_ip: key.lastUsedIp,
    revoked_at: iso(key.revokedAt),
    revoked_reason: key.revokedReason,
    predecessor_id: key.predecessorId,
    successor_id: key.successorId,
    minted_by_jti: key.mintedByJti,
  };
}

async function labels(db: Kysely<Database>, keys: readonly ApiKeyRecord[]): Promise<Map<string, string>> {
  const userIds = [...new Set(keys.filter((k) => k.ownerType === 'user').map((k) => k.ownerId))];
  const out = new Map<string, string>();
  for (const [id, username] of await findUsernames(db, userIds))
    out.set(id, `${USER_OWNER_PREFIX}${username}`);
  return out;
}

async function views(
  deps: Pick<ApiKeyAdminDeps, 'db' | 'clock'>,
  keys: ApiKeyRecord[],
): Promise<ApiKeyView[]> {
  const names = await labels(deps.db, keys);
  const unusable = await findUnusableOwners(
    deps.db,
    [...new Set(keys.filter((k) => k.ownerType === 'client').map((k) => k.ownerId))],
    [...new Set(keys.filter((k) => k.ownerType === 'user').map((k) => k.ownerId))],
  );
  const now = deps.clock();
  return keys.map((k) =>
    toView(
      k,
      k.ownerType === 'client' ? k.ownerId : (names.get(k.ownerId) ?? `${USER_OWNER_PREFIX}${k.ownerId}`),
      !unusable.has(`${k.ownerType}:${k.ownerId}`),
      now,
    ),
  );
}

function adminErrorFrom(err: unknown): never {
  if (err instanceof ApiKeyRuleError)
    throw new AdminError(err.message, err.code === 'not_found' ? 'not_found' : 'invalid_input');
  throw err;
}

async function owner(deps: Pick<ApiKeyAdminDeps, 'db'>, principal: string): Promise<ResolvedOwner> {
  try {
    return await resolveOwner(deps.db, principal);
  } catch (err) {
    return adminErrorFrom(err);
  }
}

export interface CreatedApiKey {
  key: ApiKeyView;
  /** The key itself: shown once, never stored. */
  plaintext: string;
}

export function createApiKey(
  deps: ApiKeyAdminDeps,
  input: CreateApiKeyInput,
  actor: Actor,
): Promise<CreatedApiKey> {
  return recordingRefusal(
    deps.audit,
    { event: 'api_key.create', actor, clientId: null, target: { owner: String(input.owner).slice(0, 140) } },
    () => createApiKeyUnrecorded(deps, input, actor),
  );
}

async function createApiKeyUnrecorded(
  deps: ApiKeyAdminDeps,
  input: CreateApiKeyInput,
  actor: Actor,
): Promise<CreatedApiKey> {
  const resolved = await owner(deps, input.owner);
  const now = deps.clock();
  let made: ReturnType<typeof newApiKey>;
  try {
    made = newApiKey(
      deps.hasher,
      {
        owner: resolved,
        scopes: input.scopes,
        ttlSeconds: input.ttlSeconds,
        maxTtlSeconds: deps.apiKeyMaxTtlSeconds,
        name: input.name,
        cidrs: input.cidrs,
        maxUses: input.maxUses,
        rateLimit: input.rateLimit,
        createdBy: `${actor.type}:${actor.id}`,
        createdFrom: actor.ip ?? null,
      },
      now,
    );
  } catch (err) {
    return adminErrorFrom(err);
  }
  const { row, plaintext } = made;
  await deps.audit.transact((tx) => insertApiKey(tx, row), {
    event: 'api_key.create',
    ...actorFields(actor),
    clientId: resolved.type === 'client' ? resolved.id : null,
    detail: {
      api_key_id: row.id,
      owner: resolved.label,
      scopes: JSON.parse(row.scopes) as string[],
      expires_at: row.expires_at,
      cidrs: row.cidrs ? (JSON.parse(row.cidrs) as string[]) : null,
      max_uses: row.max_uses,
      rate_limit: row.rate_limit,
    },
  });
  return { key: await showApiKey(deps, row.id), plaintext };
}

export async function listApiKeys(
  deps: Pick<ApiKeyAdminDeps, 'db' | 'clock'>,
  filter: { owner?: string; all?: boolean } = {},
): Promise<ApiKeyView[]> {
  let ownerFilter: { ownerType?: 'client' | 'user'; ownerId?: string } = {};
  if (filter.owner !== undefined) {
    // Any owner, active or not: the keys of a disabled client are exactly what one wants to see.
    if (filter.owner.startsWith(USER_OWNER_PREFIX)) {
      const username = filter.owner.slice(USER_OWNER_PREFIX.length);
      const ownerId = await findUserIdByUsername(deps.db, username);
      if (ownerId === undefined) throw new AdminError(`no user ${username.slice(0, 64)}`, 'not_found');
      ownerFilter = { ownerType: 'user', ownerId };
    } else {
      ownerFilter = { ownerType: 'client', ownerId: filter.owner };
    }
  }
  const keys = await listApiKeyRecords(deps.db, {
    ...ownerFilter,
    ...(filter.all ? {} : { liveAt: deps.clock() }),
  });
  return views(deps, keys);
}

export async function showApiKey(
  deps: Pick<ApiKeyAdminDeps, 'db' | 'clock'>,
  id: string,
): Promise<ApiKeyView> {
  const key = await findApiKeyById(deps.db, id);
  if (!key) throw new AdminError(`no API key ${id.slice(0, 64)}`, 'not_found');
  const [view] = await views(deps, [key]);
  return view as ApiKeyView;
}

/**
 * Issues a successor with the same owner, scopes, allow-list and limits, and a fresh lifetime of the
 * old key's length (capped by the maximum); the old key then expires after `graceSeconds` (or at its
 * own expiry, if sooner). Both are linked (predecessor/successor) and named in one audit record.
 */
export function rotateApiKey(
  deps: ApiKeyAdminDeps,
  id: string,
  options: { graceSeconds?: number },
  actor: Actor,
): Promise<{ old: ApiKeyView; key: ApiKeyView; plaintext: string }> {
  return recordingRefusal(
    deps.audit,
    { event: 'api_key.rotate', actor, clientId: null, target: { api_key_id: id.slice(0, 64) } },
    () => rotateApiKeyUnrecorded(deps, id, options, actor),
  );
}

async function rotateApiKeyUnrecorded(
  deps: ApiKeyAdminDeps,
  id: string,
  options: { graceSeconds?: number },
  actor: Actor,
): Promise<{ old: ApiKeyView; key: ApiKeyView; plaintext: string }> {
  const grace = options.graceSeconds ?? DEFAULT_ROTATION_GRACE_SECONDS;
  if (!Number.isInteger(grace) || grace < 1)
    throw new AdminError('the grace period must be positive', 'invalid_input');
  const old = await findApiKeyById(deps.db, id);
  if (!old) throw new AdminError(`no API key ${id.slice(0, 64)}`, 'not_found');
  const now = deps.clock();
  if (old.revokedAt !== null) throw new AdminError(`API key ${old.id} is revoked`, 'conflict');
  if (old.expiresAt <= now) throw new AdminError(`API key ${old.id} has expired`, 'conflict');
  if (old.successorId !== null)
    throw new AdminError(`API key ${old.id} was already rotated to ${old.successorId}`, 'conflict');
  let made: ReturnType<typeof newApiKey>;
  let resolved: ResolvedOwner;
  try {
    resolved = await resolveOwnerById(deps.db, old.ownerType, old.ownerId);
    const ttl = Math.min(Math.ceil((old.expiresAt - old.createdAt) / 1000), deps.apiKeyMaxTtlSeconds);
    made = newApiKey(
      deps.hasher,
      {
        owner: resolved,
        scopes: old.scopes,
        ttlSeconds: ttl,
        maxTtlSeconds: deps.apiKeyMaxTtlSeconds,
        name: old.name,
        cidrs: old.cidrs ?? undefined,
        maxUses: old.maxUses ?? undefined,
        rateLimit: old.rateLimit ?? undefined,
        createdBy: `${actor.type}:${actor.id}`,
        createdFrom: actor.ip ?? null,
        predecessorId: old.id,
      },
      now,
    );
  } catch (err) {
    return adminErrorFrom(err);
  }
  const { row, plaintext } = made;
  const oldExpiresAt = Math.min(old.expiresAt, now + grace * 1000);
  await deps.audit.transact(
    async (tx) => {
      // Guarded: of two concurrent rotations of one key, one links its successor; the other rolls back.
      if (!(await linkSuccessor(tx, old.id, row.id, oldExpiresAt)))
        throw new AdminError(`API key ${old.id} was rotated or revoked meanwhile`, 'conflict');
      await insertApiKey(tx, row);
    },
    {
      event: 'api_key.rotate',
      ...actorFields(actor),
      clientId: resolved.type === 'client' ? resolved.id : null,
      detail: {
        api_key_id: old.id,
        successor_id: row.id,
        owner: resolved.label,
        grace_seconds: grace,
        old_expires_at: oldExpiresAt,
        expires_at: row.expires_at,
      },
    },
  );
  return { old: await showApiKey(deps, old.id), key: await showApiKey(deps, row.id), plaintext };
}

/** Revokes a key at once (reason `admin`). */
export function revokeApiKey(deps: ApiKeyAdminDeps, id: string, actor: Actor): Promise<ApiKeyView> {
  return recordingRefusal(
    deps.audit,
    { event: 'api_key.revoke', actor, clientId: null, target: { api_key_id: id.slice(0, 64) } },
    () => revokeApiKeyUnrecorded(deps, id, actor),
  );
}

async function revokeApiKeyUnrecorded(deps: ApiKeyAdminDeps, id: string, actor: Actor): Promise<ApiKeyView> {
  const key = await findApiKeyById(deps.db, id);
  if (!key) throw new AdminError(`no API key ${id.slice(0, 64)}`, 'not_found');
  const now = deps.clock();
  await deps.audit.transact(
    async (tx) => {
      if (!(await revokeApiKeyRow(tx, key.id, 'admin', now)))
        throw new AdminError(`API key ${key.id} is already revoked`, 'conflict');
    },
    {
      event: 'api_key.revoke',
      ...actorFields(actor),
      clientId: key.ownerType === 'client' ? key.ownerId : null,
      detail: { api_key_id: key.id, reason: 'admin' },
    },
  );
  return showApiKey(deps, key.id);
}

/** What `updateApiKey` may change. Limits are replaced; the lifetime may only shorten, scopes only narrow. */
export interface UpdateApiKeyInput {
  /** Replaces the allow-list. */
  cidrs?: string[];
  maxUses?: number;
  rateLimit?: number;
  /** The new expiry (ms): before the current one and after now. */
  expiresAt?: number;
  /** A subset of the key's scopes. */
  scopes?: string[];
}

/**
 * Changes a live key's limits, without a new secret. The allow-list, use limit and rate limit are
 * replaced; the expiry may move only earlier and the scopes only narrow (a key is never widened: that
 * takes a new key, made under the rules of creation). The audit record names every change.
 */
export function updateApiKey(
  deps: ApiKeyAdminDeps,
  id: string,
  input: UpdateApiKeyInput,
  actor: Actor,
): Promise<ApiKeyView> {
  return recordingRefusal(
    deps.audit,
    { event: 'api_key.update', actor, clientId: null, target: { api_key_id: id.slice(0, 64) } },
    () => updateApiKeyUnrecorded(deps, id, input, actor),
  );
}

async function updateApiKeyUnrecorded(
  deps: ApiKeyAdminDeps,
  id: string,
  input: UpdateApiKeyInput,
  actor: Actor,
): Promise<ApiKeyView> {
  if (Object.values(input).every((v) => v === undefined))
    throw new AdminError('nothing to change', 'invalid_input');
  const key = await findApiKeyById(deps.db, id);
  if (!key) throw new AdminError(`no API key ${id.slice(0, 64)}`, 'not_found');
  const now = deps.clock();
  if (key.revokedAt !== null) throw new AdminError(`API key ${key.id} is revoked`, 'conflict');
  if (key.expiresAt <= now) throw new AdminError(`API key ${key.id} has expired`, 'conflict');
  const row: ApiKeyLimitChanges = {};
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  try {
    if (input.cidrs !== undefined) {
      if (input.cidrs.length === 0) throw new AdminError('give at least one CIDR', 'invalid_input');
      const cidrs = checkCidrs(input.cidrs);
      changes.cidrs = { from: key.cidrs, to: cidrs };
      row.cidrs = JSON.stringify(cidrs);
    }
    if (input.maxUses !== undefined) {
      changes.max_uses = { from: key.maxUses, to: checkMaxUses(input.maxUses) };
      row.max_uses = input.maxUses;
    }
    if (input.rateLimit !== undefined) {
      changes.rate_limit = { from: key.rateLimit, to: checkRateLimit(input.rateLimit) };
      row.rate_limit = input.rateLimit;
    }
  } catch (err) {
    adminErrorFrom(err);
  }
  if (input.expiresAt !== undefined) {
    if (!Number.isInteger(input.expiresAt) || input.expiresAt <= now)
      throw new AdminError('the new expiry must be in the future', 'invalid_input');
    if (input.expiresAt >= key.expiresAt)
      throw new AdminError(
        `the expiry may only move earlier than ${new Date(key.expiresAt).toISOString()}`,
        'invalid_input',
      );
    changes.expires_at = { from: iso(key.expiresAt), to: iso(input.expiresAt) };
    row.expires_at = input.expiresAt;
  }
  if (input.scopes !== undefined) {
    const scopes = [...new Set(input.scopes)];
    if (scopes.length === 0) throw new AdminError('a key needs at least one scope', 'invalid_input');
    const wider = scopes.filter((s) => !key.scopes.includes(s));
    if (wider.length > 0)
      throw new AdminError(
        `scopes may only narrow; the key does not carry ${wider.slice(0, 5).join(' ').slice(0, 200)}`,
        'invalid_input',
      );
    changes.scopes = { from: key.scopes, to: scopes };
    row.scopes = JSON.stringify(scopes);
  }
  await deps.audit.transact(
    async (tx) => {
      if (!(await updateApiKeyLimits(tx, key.id, row)))
        throw new AdminError(`API key ${key.id} was revoked or changed meanwhile`, 'conflict');
    },
    {
      event: 'api_key.update',
      ...actorFields(actor),
      clientId: key.ownerType === 'client' ? key.ownerId : null,
      detail: { api_key_id: key.id, changes },
    },
  );
  return showApiKey(deps, key.id);
}
