/**
 * Administering clients: create, list, show, update, disable, enable, delete, rotate a secret. Shared by `clavis admin --db`
 * and (later) the admin API. Every change commits with its audit record.
 */
import { GrantType, isScopeToken } from '@clavis/core';
import { calculateJwkThumbprint, type JSONWebKeySet } from 'jose';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import { assertionAlgorithms } from '../client_auth/private_key_jwt.js';
import {
  CLI_CLIENT_ID,
  type Client,
  type ClientAuthMethod,
  type ClientKind,
  clientAuthMethods,
  type MfaRequirement,
  mfaLevelName,
  mfaLevelOf,
} from '../clients/client.js';
import {
  type ClientChanges,
  deleteClient as deleteClientRow,
  expireClientSecrets,
  findClient,
  findClientForUpdate,
  insertClient,
  insertClientSecret,
  listClients as listClientRows,
  setClientDisabled,
  updateClient as updateClientRow,
} from '../clients/client_store.js';
import { checkPublicSigningJwks, JwksError } from '../crypto/public_jwks.js';
import { generateClientSecret, randomId, type SecretHasher } from '../crypto/secrets.js';
import { isHttpsOrLoopback } from '../http/loopback.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Database } from '../storage/schema.js';
import { userExists } from '../users/user_store.js';
import { type Actor, actorFields, recordingRefusal } from './actor.js';
import { AdminError } from './errors.js';

export interface AdminDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  hasher: SecretHasher;
  clock: () => number;
  maxAccessTokenTtlSeconds: number;
  defaultAccessTokenTtlSeconds: number;
}

export type { Actor } from './actor.js';

/** Grant types a client may be registered for, with the short names the CLI accepts. */
const grantAliases: Record<string, GrantType> = {
  [GrantType.ClientCredentials]: GrantType.ClientCredentials,
  [GrantType.RefreshToken]: GrantType.RefreshToken,
  device_code: GrantType.DeviceCode,
  [GrantType.DeviceCode]: GrantType.DeviceCode,
  'token-exchange': GrantType.TokenExchange,
  token_exchange: GrantType.TokenExchange,
  [GrantType.TokenExchange]: GrantType.TokenExchange,
  'jwt-bearer': GrantType.JwtBearer,
  jwt_bearer: GrantType.JwtBearer,
  [GrantType.JwtBearer]: GrantType.JwtBearer,
};

export interface CreateClientInput {
  name: string;
  kind: ClientKind;
  grants?: string[];
  scopes?: string[];
  authMethod?: ClientAuthMethod;
  jwks?: unknown;
  jwksUri?: string;
  owner?: string;
  audiences?: string[];
  tokenTtlSeconds?: number;
  /** How long the first secret lives; default: until rotated. */
  secretTtlSeconds?: number;
  /** A chosen client_id (the built-in clients use this); default: generated `svc_…` / `cli_…`. */
  id?: string;
  /** A person may approve this client's device requests only after a second factor (of this kind). */
  requireMfa?: MfaRequirement;
  /** Refresh-token lifetimes in seconds (default: the server's); need the refresh_token grant. */
  refreshIdleTtlSeconds?: number;
  refreshAbsoluteTtlSeconds?: number;
}

/** Bounds on a client's refresh-token lifetimes: one minute to a year. */
const REFRESH_TTL_MIN = 60;
const REFRESH_TTL_MAX = 365 * 86_400;

const clientIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;
const namePattern = /^[^\p{Cc}]{1,100}$/u;

function invalid(message: string): never {
  throw new AdminError(message, 'invalid_input');
}

/** A client's inline JWKS: public keys for the algorithms its assertions may use. */
async function validateJwks(jwks: unknown): Promise<JSONWebKeySet> {
  try {
    return await checkPublicSigningJwks(jwks, assertionAlgorithms);
  } catch (err) {
    if (err instanceof JwksError) invalid(err.message);
    throw err;
  }
}

function validateUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    invalid('jwks_uri is not a URL');
  }
  if (!isHttpsOrLoopback(u)) invalid('jwks_uri must be https');
  return u.toString();
}

function checkName(name: string): string {
  if (typeof name !== 'string' || !namePattern.test(name))
    invalid('name must be 1 to 100 printable characters');
  return name;
}

/** Grant types by their accepted names, deduplicated; a public client may not use client_credentials. */
function checkGrants(names: readonly string[], kind: ClientKind): GrantType[] {
  const grants = [
    ...new Set(names.map((g) => grantAliases[g] ?? invalid(`unknown grant type "${g.slice(0, 60)}"`))),
  ];
  if (kind === 'public' && grants.includes(GrantType.ClientCredentials))
    invalid('client_credentials needs a confidential client');
  return grants;
}

function checkClientScopes(scopes: readonly string[]): string[] {
  for (const s of scopes)
    if (!isScopeToken(s)) invalid(`scope "${s.slice(0, 60)}" is not a valid scope token`);
  return [...new Set(scopes)];
}

function checkAudiences(audiences: readonly string[]): string[] {
  for (const a of audiences) {
    if (!a || a.length > 512 || /[\s\p{Cc}]/u.test(a)) invalid('an audience is malformed');
  }
  return [...new Set(audiences)];
}

function checkTokenTtl(deps: Pick<AdminDeps, 'maxAccessTokenTtlSeconds'>, ttl: number): number {
  if (!Number.isInteger(ttl) || ttl < 30 || ttl > deps.maxAccessTokenTtlSeconds) {
    invalid(`access-token lifetime must be between 30s and ${deps.maxAccessTokenTtlSeconds}s`);
  }
  return ttl;
}

/** Refresh-token lifetimes (null: the server's default) need the refresh_token grant and fit together. */
function checkRefreshTtls(grants: readonly string[], idle: number | null, absolute: number | null): void {
  for (const [what, value] of [
    ['idle', idle],
    ['absolute', absolute],
  ] as const) {
    if (value === null) continue;
    if (!grants.includes(GrantType.RefreshToken))
      invalid(`a refresh ${what} lifetime needs the refresh_token grant`);
    if (!Number.isInteger(value) || value < REFRESH_TTL_MIN || value > REFRESH_TTL_MAX)
      invalid(`refresh ${what} lifetime must be between ${REFRESH_TTL_MIN}s and ${REFRESH_TTL_MAX}s`);
  }
  if (idle !== null && absolute !== null && idle > absolute)
    invalid('the refresh idle lifetime must not exceed the absolute lifetime');
}

export function createClient(
  deps: AdminDeps,
  input: CreateClientInput,
  actor: Actor,
): Promise<{ client: Client; secret?: string }> {
  return recordingRefusal(
    deps.audit,
    {
      event: 'client.create',
      actor,
      clientId: input.id ?? null,
      target: { name: typeof input.name === 'string' ? input.name.slice(0, 100) : null, kind: input.kind },
    },
    () => createClientUnrecorded(deps, input, actor),
  );
}

async function createClientUnrecorded(
  deps: AdminDeps,
  input: CreateClientInput,
  actor: Actor,
): Promise<{ client: Client; secret?: string }> {
  checkName(input.name);
  if (input.kind !== 'public' && input.kind !== 'confidential')
    invalid('kind must be public or confidential');

  const grants = checkGrants(
    input.grants?.length
      ? input.grants
      : input.kind === 'public'
        ? ['device_code', 'refresh_token']
        : ['client_credentials'],
    input.kind,
  );
  const authMethod: ClientAuthMethod =
    input.authMethod ??
    (input.kind === 'public'
      ? 'none'
      : input.jwks || input.jwksUri
        ? 'private_key_jwt'
        : 'client_secret_basic');
  if (!clientAuthMethods.includes(authMethod))
    invalid(`unknown auth method "${String(authMethod).slice(0, 40)}"`);
  if (input.kind === 'public' && authMethod !== 'none') invalid('a public client authenticates with none');
  if (input.kind === 'confidential' && authMethod === 'none')
    invalid('a confidential client must authenticate');
  const scopes = checkClientScopes(input.scopes ?? []);
  const audiences = checkAudiences(input.audiences ?? []);

  let jwks: JSONWebKeySet | null = null;
  let jwksUri: string | null = null;
  if (authMethod === 'private_key_jwt') {
    if (input.jwks && input.jwksUri) invalid('give either a JWKS or a jwks_uri, not both');
    if (input.jwks) jwks = await validateJwks(input.jwks);
    else if (input.jwksUri) jwksUri = validateUrl(input.jwksUri);
    else invalid("private_key_jwt needs the client's public keys (--jwks-file or --jwks-uri)");
  } else if (input.jwks || input.jwksUri) {
    invalid('keys are only used with --auth-method private_key_jwt');
  }

  const ttl = checkTokenTtl(deps, input.tokenTtlSeconds ?? deps.defaultAccessTokenTtlSeconds);
  if (input.owner !== undefined && (!input.owner || input.owner.length > 128)) invalid('owner is malformed');
  const refreshIdle = input.refreshIdleTtlSeconds ?? null;
  const refreshAbsolute = input.refreshAbsoluteTtlSeconds ?? null;
  checkRefreshTtls(grants, refreshIdle, refreshAbsolute);

  let id = input.id;
  if (id !== undefined) {
    if (!clientIdPattern.test(id)) invalid('client_id must be 3 to 64 characters of A-Z a-z 0-9 . _ -');
    // Keep the `sub` namespaces apart: a client may never be mistaken for a person (RFC 9700 §4.15).
    if (id.startsWith('usr_') || id.startsWith('user:'))
      invalid('client_id must not look like a user identifier');
    if (await userExists(deps.db, id)) invalid("client_id must not equal a user's identifier or username");
  } else {
    id = randomId(input.kind === 'public' ? 'cli_' : 'svc_', 12);
  }

  const now = deps.clock();
  const secret =
    authMethod === 'client_secret_basic' || authMethod === 'client_secret_post'
      ? generateClientSecret()
      : undefined;
  const clientId = id;
  const thumbprints = jwks ? await Promise.all(jwks.keys.map((k) => calculateJwkThumbprint(k))) : [];
  try {
    await deps.audit.transact(
      async (tx) => {
        await insertClient(tx, {
          id: clientId,
          name: input.name,
          owner: input.owner ?? null,
          kind: input.kind,
          auth_method: authMethod,
          grant_types: JSON.stringify(grants),
          scopes: JSON.stringify(scopes),
          audiences: JSON.stringify(audiences),
          jwks: jwks ? JSON.stringify(jwks) : null,
          jwks_uri: jwksUri,
          token_ttl: ttl,
          created_at: now,
          created_by: actor.id,
          disabled_at: null,
          require_mfa: mfaLevelOf(input.requireMfa),
          refresh_idle_ttl: refreshIdle,
          refresh_absolute_ttl: refreshAbsolute,
        });
        if (secret) {
          await insertClientSecret(tx, {
            id: randomId('sec_', 9),
            clientId,
            hash: deps.hasher.hash(secret),
            createdAt: now,
            expiresAt: input.secretTtlSeconds ? now + input.secretTtlSeconds * 1000 : null,
          });
        }
      },
      {
        event: 'client.create',
        ...actorFields(actor),
        clientId,
        detail: {
          name: input.name,
          kind: input.kind,
          owner: input.owner ?? null,
          auth_method: authMethod,
          grant_types: grants,
          scopes,
          audiences,
          token_ttl: ttl,
          jwks_thumbprints: thumbprints,
          jwks_uri: jwksUri,
          secret_expires_at:
            secret && input.secretTtlSeconds
              ? new Date(now + input.secretTtlSeconds * 1000).toISOString()
              : null,
          require_mfa: input.requireMfa === true || input.requireMfa === 'phishing-resistant',
          require_mfa_level: mfaLevelName({
            requireMfa: mfaLevelOf(input.requireMfa) > 0,
            requirePhishingResistantMfa: input.requireMfa === 'phishing-resistant',
          }),
          refresh_idle_ttl: refreshIdle,
          refresh_absolute_ttl: refreshAbsolute,
        },
      },
    );
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AdminError(`a client with id ${clientId} already exists`, 'conflict');
    throw err;
  }
  const client = await findClient(deps.db, clientId);
  if (!client) throw new Error('client vanished after creation');
  return secret ? { client, secret } : { client };
}

export function listClients(deps: Pick<AdminDeps, 'db'>): Promise<Client[]> {
  return listClientRows(deps.db);
}

export async function showClient(deps: Pick<AdminDeps, 'db'>, id: string): Promise<Client> {
  const client = await findClient(deps.db, id);
  if (!client) throw new AdminError(`no client ${id.slice(0, 64)}`, 'not_found');
  return client;
}

/**
 * Deletes a client and its secrets. Its access tokens stop introspecting as active at once (resource
 * servers that verify JWTs locally keep accepting them until they expire, minutes at most).
 */
export function deleteClient(deps: AdminDeps, id: string, actor: Actor): Promise<void> {
  return recordingRefusal(deps.audit, { event: 'client.delete', actor, clientId: id }, async () => {
    if (id === CLI_CLIENT_ID) {
      throw new AdminError('the built-in clavis-cli client cannot be deleted', 'invalid_input');
    }
    const now = deps.clock();
    await deps.audit.transact(
      async (tx) => {
        // What goes with the client, for the record: its secrets and trust policies are deleted, its
        // live API keys revoked (a later client given the same id must never inherit them).
        const secrets = await tx
          .selectFrom('client_secrets')
          .select('id')
          .where('client_id', '=', id)
          .execute();
        const federations = await tx
          .selectFrom('federations')
          .select('id')
          .where('client_id', '=', id)
          .execute();
        if (!(await deleteClientRow(tx, id)))
          throw new AdminError(`no client ${id.slice(0, 64)}`, 'not_found');
        const keys = await tx
          .updateTable('api_keys')
          .set({ revoked_at: now, revoked_reason: 'owner_deleted' })
          .where('owner_type', '=', 'client')
          .where('owner_id', '=', id)
          .where('revoked_at', 'is', null)
          .returning('id')
          .execute();
        return {
          secret_ids: secrets.map((r) => r.id),
          federation_ids: federations.map((r) => r.id),
          revoked_api_key_ids: keys.map((r) => r.id),
        };
      },
      (cascaded) => ({
        event: 'client.delete',
        ...actorFields(actor),
        clientId: id,
        detail: cascaded,
      }),
    );
  });
}

/**
 * Issues a new secret and lets the current ones live `graceSeconds` more (0: they stop at once), so
 * a deployment can switch over without downtime. The new secret is returned once and stored hashed.
 */
export function rotateClientSecret(
  deps: AdminDeps,
  id: string,
  options: { graceSeconds: number; secretTtlSeconds?: number },
  actor: Actor,
): Promise<{ clientId: string; secret: string; previousExpireAt: number }> {
  return recordingRefusal(deps.audit, { event: 'client.secret_rotate', actor, clientId: id }, () =>
    rotateClientSecretUnrecorded(deps, id, options, actor),
  );
}

async function rotateClientSecretUnrecorded(
  deps: AdminDeps,
  id: string,
  options: { graceSeconds: number; secretTtlSeconds?: number },
  actor: Actor,
): Promise<{ clientId: string; secret: string; previousExpireAt: number }> {
  const client = await showClient(deps, id);
  if (client.authMethod !== 'client_secret_basic' && client.authMethod !== 'client_secret_post') {
    throw new AdminError(
      `client ${id} authenticates with ${client.authMethod}, not a secret`,
      'invalid_input',
    );
  }
  const now = deps.clock();
  const secret = generateClientSecret();
  const previousExpireAt = now + options.graceSeconds * 1000;
  await deps.audit.transact(
    async (tx) => {
      const expired = await expireClientSecrets(tx, id, previousExpireAt);
      await insertClientSecret(tx, {
        id: randomId('sec_', 9),
        clientId: id,
        hash: deps.hasher.hash(secret),
        createdAt: now,
        expiresAt: options.secretTtlSeconds ? now + options.secretTtlSeconds * 1000 : null,
      });
      return expired;
    },
    (expired) => ({
      event: 'client.secret_rotate',
      ...actorFields(actor),
      clientId: id,

      detail: { previous_secrets: expired, previous_expire_at: new Date(previousExpireAt).toISOString() },
    }),
  );
  return { clientId: id, secret, previousExpireAt };
}

/** What `updateClient` may change; what is absent stays as it is. */
export interface UpdateClientInput {
  name?: string;
  owner?: string;
  /** Replaces the grant types (accepted names as for create). */
  grants?: string[];
  /** Replaces the scope ceiling. */
  scopes?: string[];
  /** Replaces the audiences. */
  audiences?: string[];
  tokenTtlSeconds?: number;
  requireMfa?: MfaRequirement;
  /** Seconds; null: back to the server's default. */
  refreshIdleTtlSeconds?: number | null;
  refreshAbsoluteTtlSeconds?: number | null;
}

type Changes = Record<string, { from: unknown; to: unknown }>;

/**
 * Changes a client's settings, validated as `createClient` validates them. A narrower scope ceiling
 * applies to every token issued or refreshed from now on; tokens already issued keep their scope until
 * they expire. The audit record names each change with its old and new value.
 */
export function updateClient(
  deps: AdminDeps,
  id: string,
  input: UpdateClientInput,
  actor: Actor,
): Promise<Client> {
  return recordingRefusal(deps.audit, { event: 'client.update', actor, clientId: id }, () =>
    updateClientUnrecorded(deps, id, input, actor),
  );
}

async function updateClientUnrecorded(
  deps: AdminDeps,
  id: string,
  input: UpdateClientInput,
  actor: Actor,
): Promise<Client> {
  if (Object.values(input).every((v) => v === undefined)) invalid('nothing to change');
  if (input.name !== undefined) checkName(input.name);
  if (input.owner !== undefined && (!input.owner || input.owner.length > 128)) invalid('owner is malformed');
  if (input.scopes !== undefined) checkClientScopes(input.scopes);
  if (input.audiences !== undefined) checkAudiences(input.audiences);
  if (input.tokenTtlSeconds !== undefined) checkTokenTtl(deps, input.tokenTtlSeconds);
  if (input.grants !== undefined && input.grants.length === 0) invalid('a client needs at least one grant');
  await deps.audit.transact(
    async (tx) => {
      const client = await findClientForUpdate(tx, id);
      if (!client) throw new AdminError(`no client ${id.slice(0, 64)}`, 'not_found');
      const grants = input.grants !== undefined ? checkGrants(input.grants, client.kind) : client.grantTypes;
      const idle =
        input.refreshIdleTtlSeconds !== undefined
          ? input.refreshIdleTtlSeconds
          : client.refreshIdleTtlSeconds;
      const absolute =
        input.refreshAbsoluteTtlSeconds !== undefined
          ? input.refreshAbsoluteTtlSeconds
          : client.refreshAbsoluteTtlSeconds;
      checkRefreshTtls(grants, idle, absolute);

      const changes: Changes = {};
      const row: ClientChanges = {};
      const note = <K extends keyof ClientChanges>(
        field: string,
        column: K,
        before: unknown,
        after: unknown,
        stored: ClientChanges[K],
      ) => {
        if (JSON.stringify(before) === JSON.stringify(after)) return;
        changes[field] = { from: before, to: after };
        row[column] = stored;
      };
      if (input.name !== undefined) note('name', 'name', client.name, input.name, input.name);
      if (input.owner !== undefined) note('owner', 'owner', client.owner, input.owner, input.owner);
      if (input.grants !== undefined)
        note('grant_types', 'grant_types', client.grantTypes, grants, JSON.stringify(grants));
      if (input.scopes !== undefined) {
        const scopes = checkClientScopes(input.scopes);
        note('scopes', 'scopes', client.scopes, scopes, JSON.stringify(scopes));
      }
      if (input.audiences !== undefined) {
        const audiences = checkAudiences(input.audiences);
        note('audiences', 'audiences', client.audiences, audiences, JSON.stringify(audiences));
      }
      if (input.tokenTtlSeconds !== undefined)
        note('token_ttl', 'token_ttl', client.tokenTtlSeconds, input.tokenTtlSeconds, input.tokenTtlSeconds);
      if (input.requireMfa !== undefined) {
        // Shown as before (true/false), or `phishing-resistant` where that level is involved.
        const from = client.requirePhishingResistantMfa ? 'phishing-resistant' : client.requireMfa;
        note('require_mfa', 'require_mfa', from, input.requireMfa, mfaLevelOf(input.requireMfa));
      }
      note('refresh_idle_ttl', 'refresh_idle_ttl', client.refreshIdleTtlSeconds, idle, idle);
      note(
        'refresh_absolute_ttl',
        'refresh_absolute_ttl',
        client.refreshAbsoluteTtlSeconds,
        absolute,
        absolute,
      );
      if (Object.keys(changes).length === 0)
        invalid('nothing to change: every value given is the current one');
      await updateClientRow(tx, id, row);
      return changes;
    },
    (changes) => ({ event: 'client.update', ...actorFields(actor), clientId: id, detail: { changes } }),
  );
  return showClient(deps, id);
}

/**
 * Disables a client: it can no longer authenticate or be issued tokens, and its access tokens stop
 * introspecting as active (its API keys and federations stop working with it). Everything is kept:
 * `enableClient` restores it. The built-in clavis-cli client cannot be disabled (as it cannot be deleted).
 */
export function disableClient(deps: AdminDeps, id: string, actor: Actor): Promise<Client> {
  return setDisabled(deps, id, true, actor);
}

export function enableClient(deps: AdminDeps, id: string, actor: Actor): Promise<Client> {
  return setDisabled(deps, id, false, actor);
}

function setDisabled(deps: AdminDeps, id: string, disable: boolean, actor: Actor): Promise<Client> {
  const event = disable ? 'client.disable' : 'client.enable';
  return recordingRefusal(deps.audit, { event, actor, clientId: id }, async () => {
    if (disable && id === CLI_CLIENT_ID) invalid('the built-in clavis-cli client cannot be disabled');
    await showClient(deps, id);
    await deps.audit.transact(
      async (tx) => {
        if (!(await setClientDisabled(tx, id, disable ? deps.clock() : null)))
          throw new AdminError(`client ${id} is already ${disable ? 'disabled' : 'enabled'}`, 'conflict');
      },
      { event, ...actorFields(actor), clientId: id, detail: {} },
    );
    return showClient(deps, id);
  });
}
