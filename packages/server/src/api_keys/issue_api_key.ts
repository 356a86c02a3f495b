/**
 * The rules every new key obeys, whoever makes it (an administrator, a rotation, a job with `keys:mint`):
 * an owner that exists and is active, scopes that are well-formed and within the owner's ceiling and
 * never `keys:mint` (no key → token → key chains), a lifetime within the maximum (a key without expiry
 * cannot exist), a valid allow-list, sane limits. The plaintext is generated here, returned once, and
 * only its keyed hash is stored.
 */
import { formatDuration, generateApiKey, isScopeToken, KEYS_MINT_SCOPE } from '@clavis/core';
import type { Kysely } from 'kysely';
import { findClient } from '../clients/client_store.js';
import { randomId, type SecretHasher } from '../crypto/secrets.js';
import type { ApiKeyOwnerType, Database } from '../storage/schema.js';
import { findKeyOwnerByUsername, findUsernameById } from '../users/user_store.js';
import { CidrError, normaliseCidrs } from './allow_list.js';
import type { NewApiKey } from './api_key_store.js';
import { USER_OWNER_PREFIX } from './owner.js';

const MAX_USES_LIMIT = 1_000_000_000;
const RATE_LIMIT_MAX = 1_000_000;

/** A rule a requested key breaks; the message is for the person or job that asked. */
export class ApiKeyRuleError extends Error {
  override name = 'ApiKeyRuleError';
  constructor(
    message: string,
    readonly code: 'invalid_input' | 'invalid_scope' | 'not_found',
  ) {
    super(message);
  }
}

export interface ResolvedOwner {
  type: ApiKeyOwnerType;
  id: string;
  /** `client-id` or `user:USERNAME`. */
  label: string;
  /** Null: a person with no ceiling set (the administrator is the ceiling). */
  ceiling: string[] | null;
}

/** The owner named `client-id` or `user:USERNAME`, if it exists and is active. */
export async function resolveOwner(db: Kysely<Database>, principal: string): Promise<ResolvedOwner> {
  if (principal.startsWith(USER_OWNER_PREFIX)) {
    const username = principal.slice(USER_OWNER_PREFIX.length);
    const row = await findKeyOwnerByUsername(db, username);
    if (!row) throw new ApiKeyRuleError(`no user ${username.slice(0, 64)}`, 'not_found');
    if (row.disabled_at !== null)
      throw new ApiKeyRuleError(`user ${row.username} is disabled`, 'invalid_input');
    return {
      type: 'user',
      id: row.id,
      label: `${USER_OWNER_PREFIX}${row.username}`,
      ceiling: row.scopes ? (JSON.parse(row.scopes) as string[]) : null,
    };
  }
  const client = await findClient(db, principal);
  if (!client) throw new ApiKeyRuleError(`no client ${principal.slice(0, 64)}`, 'not_found');
  if (client.disabledAt !== null)
    throw new ApiKeyRuleError(`client ${client.id} is disabled`, 'invalid_input');
  // A public client (a CLI app) is not a principal that acts on its own: a key for a person is user:NAME.
  if (client.kind === 'public')
    throw new ApiKeyRuleError(
      `client ${client.id} is public: a key is owned by a service principal or by a person (user:NAME)`,
      'invalid_input',
    );
  return { type: 'client', id: client.id, label: client.id, ceiling: client.scopes };
}

/** The owner of a stored key (by type and id), for rotation and views. */
export async function resolveOwnerById(
  db: Kysely<Database>,
  type: ApiKeyOwnerType,
  id: string,
): Promise<ResolvedOwner> {
  if (type === 'client') return resolveOwner(db, id);
  const username = await findUsernameById(db, id);
  if (username === undefined)
    throw new ApiKeyRuleError(`the key's owner ${id} no longer exists`, 'not_found');
  return resolveOwner(db, `${USER_OWNER_PREFIX}${username}`);
}

interface ApiKeySpec {
  owner: ResolvedOwner;
  scopes: readonly string[];
  ttlSeconds: number;
  maxTtlSeconds: number;
  name?: string | undefined;
  cidrs?: readonly string[] | undefined;
  maxUses?: number | undefined;
  rateLimit?: number | undefined;
  createdBy: string | null;
  createdFrom: string | null;
  predecessorId?: string | undefined;
  mintedByJti?: string | undefined;
}

const namePattern = /^[^\p{Cc}]{1,100}$/u;

function positiveInt(value: number, what: string, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new ApiKeyRuleError(`${what} must be a whole number from 1 to ${max}`, 'invalid_input');
  return value;
}

/** A key's use limit, checked as at creation. */
export function checkMaxUses(value: number): number {
  return positiveInt(value, 'max uses', MAX_USES_LIMIT);
}

/** A key's per-minute rate limit, checked as at creation. */
export function checkRateLimit(value: number): number {
  return positiveInt(value, 'the rate limit', RATE_LIMIT_MAX);
}

/** An allow-list, normalised; an error names the first malformed CIDR. */
export function checkCidrs(texts: readonly string[]): string[] {
  try {
    return normaliseCidrs(texts);
  } catch (err) {
    if (err instanceof CidrError) throw new ApiKeyRuleError(err.message, 'invalid_input');
    throw err;
  }
}

/** Checks a spec against the rules; returns the normalised scopes and CIDRs. */
function checkApiKeySpec(spec: ApiKeySpec): { scopes: string[]; cidrs: string[] | null } {
  if (spec.name !== undefined && !namePattern.test(spec.name))
    throw new ApiKeyRuleError('name must be 1 to 100 characters without control characters', 'invalid_input');
  const scopes = [...new Set(spec.scopes)];
  if (scopes.length === 0) throw new ApiKeyRuleError('a key needs at least one scope', 'invalid_scope');
  for (const s of scopes) {
    if (!isScopeToken(s))
      throw new ApiKeyRuleError(`scope ${JSON.stringify(s.slice(0, 64))} is malformed`, 'invalid_scope');
  }
  if (scopes.includes(KEYS_MINT_SCOPE))
    throw new ApiKeyRuleError(`a key may not carry ${KEYS_MINT_SCOPE}`, 'invalid_scope');
  const { ceiling } = spec.owner;
  if (ceiling !== null) {
    const outside = scopes.filter((s) => !ceiling.includes(s));
    if (outside.length)
      throw new ApiKeyRuleError(
        `scope beyond the ceiling of ${spec.owner.label}: ${outside.slice(0, 5).join(' ')}`,
        'invalid_scope',
      );
  }
  if (!Number.isInteger(spec.ttlSeconds) || spec.ttlSeconds < 1)
    throw new ApiKeyRuleError('the lifetime must be a positive number of seconds', 'invalid_input');
  if (spec.ttlSeconds > spec.maxTtlSeconds)
    throw new ApiKeyRuleError(
      `the lifetime exceeds the maximum of ${formatDuration(spec.maxTtlSeconds)}`,
      'invalid_input',
    );
  if (spec.maxUses !== undefined) positiveInt(spec.maxUses, 'max uses', MAX_USES_LIMIT);
  if (spec.rateLimit !== undefined) positiveInt(spec.rateLimit, 'the rate limit', RATE_LIMIT_MAX);
  let cidrs: string[] | null = null;
  if (spec.cidrs !== undefined && spec.cidrs.length > 0) {
    try {
      cidrs = normaliseCidrs(spec.cidrs);
    } catch (err) {
      if (err instanceof CidrError) throw new ApiKeyRuleError(err.message, 'invalid_input');
      throw err;
    }
  }
  return { scopes, cidrs };
}

/** A new key: its row to insert (hash only) and the plaintext, to be shown once. */
export function newApiKey(
  hasher: SecretHasher,
  spec: ApiKeySpec,
  now: number,
): { row: NewApiKey; plaintext: string } {
  const { scopes, cidrs } = checkApiKeySpec(spec);
  const plaintext = generateApiKey();
  const id = randomId('key_', 12);
  return {
    plaintext,
    row: {
      id,
      key_hash: hasher.hash(plaintext),
      owner_type: spec.owner.type,
      owner_id: spec.owner.id,
      name: spec.name ?? id,
      scopes: JSON.stringify(scopes),
      created_at: now,
      expires_at: now + spec.ttlSeconds * 1000,
      cidrs: cidrs ? JSON.stringify(cidrs) : null,
      max_uses: spec.maxUses ?? null,
      rate_limit: spec.rateLimit ?? null,
      created_by: spec.createdBy,
      created_from: spec.createdFrom,
      last_used_at: null,
      last_used_ip: null,
      revoked_at: null,
      revoked_reason: null,
      predecessor_id: spec.predecessorId ?? null,
      successor_id: null,
      minted_by_jti: spec.mintedByJti ?? null,
    },
  };
}
