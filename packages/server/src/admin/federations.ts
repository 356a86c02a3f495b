/**
 * Administering federations — the trust policies that let a CI job or a Kubernetes pod exchange its
 * platform's OIDC token for a service principal's token: create, list, show, update, disable, enable,
 * delete, and test a token against one. Shared by
 * `clavis admin --db` and (later) the admin API. Every change commits with its audit record.
 */
import { isScopeToken } from '@clavis/core';
import { findClient } from '../clients/client_store.js';
import { defaults as configDefaults } from '../config.js';
import { randomId } from '../crypto/secrets.js';
import {
  type ConditionResult,
  type EvaluateDeps,
  evaluateWorkloadToken,
} from '../federation/evaluate_workload_token.js';
import type { Federation } from '../federation/federation.js';
import {
  deleteFederation as deleteFederationRow,
  type FederationChanges,
  findFederation,
  findFederationForUpdate,
  insertFederation,
  listFederations as listFederationRows,
  setFederationDisabled,
  updateFederation as updateFederationRow,
} from '../federation/federation_store.js';
import { IssuerKeys } from '../federation/issuer_keys.js';
import {
  type Condition,
  checkAudience,
  checkConditions,
  checkFetchableUrl,
  checkIssuer,
  checkJwks,
  PolicyError,
  runPinWarnings,
} from '../federation/policy.js';
import { isPresetName, type Preset, presetForIssuer, presetNames, presets } from '../federation/presets.js';
import { isUniqueViolation } from '../storage/errors.js';
import { type Actor, actorFields, recordingRefusal } from './actor.js';
import type { AdminDeps } from './clients.js';
import { AdminError } from './errors.js';

export type FederationAdminDeps = Pick<AdminDeps, 'db' | 'audit' | 'clock' | 'maxAccessTokenTtlSeconds'>;

/** A federated token lives at most this long unless the policy says less. */
const DEFAULT_FEDERATION_MAX_TTL_SECONDS = 15 * 60;
const MIN_TTL_SECONDS = 30;
const namePattern = /^[^\p{Cc}]{1,100}$/u;

export interface CreateFederationInput {
  clientId: string;
  /** May be omitted with a preset whose platform has one issuer (GitHub, GitLab.com, Buildkite). */
  issuer?: string;
  audience: string;
  conditions: Condition[];
  /** Inline JWKS (parsed JSON), for air-gapped setups. */
  jwks?: unknown;
  jwksUri?: string;
  /** The scope ceiling; default: the client's whole ceiling. Must lie within it. */
  scopes?: string[];
  preset?: string;
  maxTtlSeconds?: number;
  name?: string;
  /**
   * Accept a wildcard in the repository condition (`repository=acme/*`, `project_path=group/*`), which
   * trusts every repository it matches, including new ones (`--allow-org-wide`). Default false.
   */
  allowOrgWide?: boolean;
}

function invalid(message: string): never {
  throw new AdminError(message, 'invalid_input');
}

/** Runs a policy check, turning its refusal into the operator error the CLI prints. */
async function policy<T>(check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof PolicyError) invalid(err.message);
    throw err;
  }
}

export function createFederation(
  deps: FederationAdminDeps,
  input: CreateFederationInput,
  actor: Actor,
): Promise<Federation> {
  return recordingRefusal(
    deps.audit,
    {
      event: 'federation.create',
      actor,
      clientId: input.clientId,
      target: { issuer: (input.issuer ?? input.preset ?? null)?.slice(0, 200) ?? null },
    },
    () => createFederationUnrecorded(deps, input, actor),
  );
}

async function createFederationUnrecorded(
  deps: FederationAdminDeps,
  input: CreateFederationInput,
  actor: Actor,
): Promise<Federation> {
  let preset: Preset | undefined;
  if (input.preset !== undefined) {
    if (!isPresetName(input.preset))
      invalid(`unknown preset "${input.preset.slice(0, 40)}"; one of ${presetNames.join(', ')}`);
    preset = presets[input.preset];
  }
  const issuerText = input.issuer ?? preset?.issuer ?? null;
  if (issuerText === null) {
    invalid(
      preset
        ? `the ${preset.name} preset needs --issuer (it differs per installation)`
        : 'an issuer is required',
    );
  }
  const issuer = await policy(() => checkIssuer(issuerText));
  // A policy for a platform's well-known issuer gets that platform's rules even without --preset.
  preset ??= presetForIssuer(issuer);
  const audience = await policy(() => checkAudience(input.audience ?? ''));
  const allowOrgWide = input.allowOrgWide === true;
  const conditions = await policy(() => checkConditions(input.conditions ?? [], preset, { allowOrgWide }));

  if (input.jwks !== undefined && input.jwksUri !== undefined)
    invalid('give either a JWKS or a jwks_uri, not both');
  const jwks = input.jwks !== undefined ? await policy(() => checkJwks(input.jwks)) : null;
  const jwksUri =
    input.jwksUri !== undefined
      ? await policy(() => checkFetchableUrl('the jwks_uri', input.jwksUri as string).toString())
      : null;

  const client = await findClient(deps.db, input.clientId);
  if (!client) invalid(`no client ${input.clientId.slice(0, 64)}`);
  if (client.kind !== 'confidential')
    invalid('a federation maps to a confidential client (a service principal)');
  if (client.disabledAt !== null) invalid(`client ${client.id} is disabled`);

  const scopes = [...new Set(input.scopes ?? client.scopes)];
  for (const s of scopes) {
    if (!isScopeToken(s)) invalid(`scope "${s.slice(0, 60)}" is not a valid scope token`);
    if (!client.scopes.includes(s)) invalid(`scope ${s} is outside the client's ceiling`);
  }

  const maxTtl =
    input.maxTtlSeconds ?? Math.min(DEFAULT_FEDERATION_MAX_TTL_SECONDS, deps.maxAccessTokenTtlSeconds);
  if (!Number.isInteger(maxTtl) || maxTtl < MIN_TTL_SECONDS || maxTtl > deps.maxAccessTokenTtlSeconds) {
    invalid(
      `the maximum token lifetime must be between ${MIN_TTL_SECONDS}s and ${deps.maxAccessTokenTtlSeconds}s`,
    );
  }
  const name = input.name ?? `${preset?.name ?? new URL(issuer).host} → ${client.id}`;
  if (!namePattern.test(name)) invalid('name must be 1 to 100 printable characters');

  const id = randomId('fed_', 12);
  const now = deps.clock();
  try {
    await deps.audit.transact(
      (tx) =>
        insertFederation(tx, {
          id,
          name,
          client_id: client.id,
          issuer,
          audience,
          conditions: JSON.stringify(conditions),
          jwks: jwks ? JSON.stringify(jwks) : null,
          jwks_uri: jwksUri,
          scopes: JSON.stringify(scopes),
          max_ttl: maxTtl,
          preset: preset?.name ?? null,
          created_at: now,
          created_by: actor.id,
          disabled_at: null,
        }),
      {
        event: 'federation.create',
        ...actorFields(actor),
        clientId: client.id,
        detail: {
          id,
          name,
          issuer,
          audience,
          conditions,
          key_source: jwks ? 'inline' : jwksUri ? 'jwks_uri' : 'discovery',
          scopes,
          max_ttl: maxTtl,
          preset: preset?.name ?? null,
          ...(allowOrgWide ? { allow_org_wide: true } : {}),
        },
      },
    );
  } catch (err) {
    if (isUniqueViolation(err)) throw new AdminError('a federation with that id already exists', 'conflict');
    throw err;
  }
  const created = await findFederation(deps.db, id);
  if (!created) throw new Error('federation vanished after creation');
  return created;
}

/**
 * What a federation trusts that it probably should not, for the operator to read (the CLI prints each
 * on stderr, and as `warnings` in `create --json`): today, a GitHub, GitLab or Buildkite policy that
 * pins no ref, environment or workflow, and so trusts every branch and pull-request run.
 */
export function federationWarnings(federation: Pick<Federation, 'conditions' | 'preset'>): string[] {
  const preset =
    federation.preset !== null && isPresetName(federation.preset) ? presets[federation.preset] : undefined;
  return runPinWarnings(federation.conditions, preset);
}

export function listFederations(deps: Pick<FederationAdminDeps, 'db'>): Promise<Federation[]> {
  return listFederationRows(deps.db);
}

export async function showFederation(deps: Pick<FederationAdminDeps, 'db'>, id: string): Promise<Federation> {
  const found = await findFederation(deps.db, id);
  if (!found) throw new AdminError(`no federation ${id.slice(0, 64)}`, 'not_found');
  return found;
}

/**
 * Deletes a federation: exchanges under it stop at once on every instance (policies are read per
 * exchange). Tokens already issued keep working until they expire — minutes — unless revoked.
 */
export function deleteFederation(deps: FederationAdminDeps, id: string, actor: Actor): Promise<void> {
  return recordingRefusal(
    deps.audit,
    { event: 'federation.delete', actor, clientId: null, target: { id: id.slice(0, 64) } },
    () => deleteFederationUnrecorded(deps, id, actor),
  );
}

async function deleteFederationUnrecorded(
  deps: FederationAdminDeps,
  id: string,
  actor: Actor,
): Promise<void> {
  await deps.audit.transact(
    async (tx) => {
      const existing = await findFederation(tx, id);
      if (!existing || !(await deleteFederationRow(tx, id))) {
        throw new AdminError(`no federation ${id.slice(0, 64)}`, 'not_found');
      }
      return existing;
    },
    (existing) => ({
      event: 'federation.delete',
      ...actorFields(actor),
      clientId: existing.clientId,
      detail: { id, issuer: existing.issuer, name: existing.name },
    }),
  );
}

/** What `updateFederation` may change; what is absent stays. The issuer and principal are fixed. */
export interface UpdateFederationInput {
  audience?: string;
  /** Replaces every condition. */
  conditions?: Condition[];
  /** Inline JWKS; replaces the key source. */
  jwks?: unknown;
  /** Replaces the key source. */
  jwksUri?: string;
  /** Back to OIDC discovery at the issuer (no inline keys, no jwks_uri). */
  discovery?: boolean;
  scopes?: string[];
  maxTtlSeconds?: number;
  name?: string;
  allowOrgWide?: boolean;
}

/**
 * Changes a federation, validated as `createFederation` validates: conditions pin the subject, scopes
 * lie within the client's ceiling, the lifetime is bounded. Exchanges see the change at once (policies
 * are read per exchange). The audit record names each change with its old and new value.
 */
export function updateFederation(
  deps: FederationAdminDeps,
  id: string,
  input: UpdateFederationInput,
  actor: Actor,
): Promise<Federation> {
  return recordingRefusal(
    deps.audit,
    { event: 'federation.update', actor, clientId: null, target: { id: id.slice(0, 64) } },
    () => updateFederationUnrecorded(deps, id, input, actor),
  );
}

async function updateFederationUnrecorded(
  deps: FederationAdminDeps,
  id: string,
  input: UpdateFederationInput,
  actor: Actor,
): Promise<Federation> {
  const { allowOrgWide, ...fields } = input;
  if (Object.values(fields).every((v) => v === undefined || v === false)) invalid('nothing to change');
  const sources = [input.jwks !== undefined, input.jwksUri !== undefined, input.discovery === true];
  if (sources.filter(Boolean).length > 1) invalid('give one key source: a JWKS, a jwks_uri or discovery');
  const audience =
    input.audience !== undefined ? await policy(() => checkAudience(input.audience ?? '')) : undefined;
  const jwks = input.jwks !== undefined ? await policy(() => checkJwks(input.jwks)) : undefined;
  const jwksUri =
    input.jwksUri !== undefined
      ? await policy(() => checkFetchableUrl('the jwks_uri', input.jwksUri as string).toString())
      : undefined;
  if (input.name !== undefined && !namePattern.test(input.name))
    invalid('name must be 1 to 100 printable characters');
  if (
    input.maxTtlSeconds !== undefined &&
    (!Number.isInteger(input.maxTtlSeconds) ||
      input.maxTtlSeconds < MIN_TTL_SECONDS ||
      input.maxTtlSeconds > deps.maxAccessTokenTtlSeconds)
  ) {
    invalid(
      `the maximum token lifetime must be between ${MIN_TTL_SECONDS}s and ${deps.maxAccessTokenTtlSeconds}s`,
    );
  }
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  await deps.audit.transact(
    async (tx) => {
      const existing = await findFederationForUpdate(tx, id);
      if (!existing) throw new AdminError(`no federation ${id.slice(0, 64)}`, 'not_found');
      const preset =
        existing.preset !== null && isPresetName(existing.preset) ? presets[existing.preset] : undefined;
      const row: FederationChanges = {};
      const note = (field: string, before: unknown, after: unknown, set: () => void) => {
        if (JSON.stringify(before) === JSON.stringify(after)) return;
        changes[field] = { from: before, to: after };
        set();
      };
      if (input.conditions !== undefined) {
        const conditions = await policy(() =>
          checkConditions(input.conditions ?? [], preset, { allowOrgWide: allowOrgWide === true }),
        );
        note('conditions', existing.conditions, conditions, () => {
          row.conditions = JSON.stringify(conditions);
        });
      }
      if (input.scopes !== undefined) {
        const client = await findClient(tx, existing.clientId);
        if (!client) invalid(`no client ${existing.clientId}`);
        const scopes = [...new Set(input.scopes)];
        for (const s of scopes) {
          if (!isScopeToken(s)) invalid(`scope "${s.slice(0, 60)}" is not a valid scope token`);
          if (!client.scopes.includes(s)) invalid(`scope ${s} is outside the client's ceiling`);
        }
        note('scopes', existing.scopes, scopes, () => {
          row.scopes = JSON.stringify(scopes);
        });
      }
      if (audience !== undefined)
        note('audience', existing.audience, audience, () => {
          row.audience = audience;
        });
      if (input.name !== undefined)
        note('name', existing.name, input.name, () => {
          row.name = input.name;
        });
      if (input.maxTtlSeconds !== undefined)
        note('max_ttl', existing.maxTtlSeconds, input.maxTtlSeconds, () => {
          row.max_ttl = input.maxTtlSeconds;
        });
      const source = (f: { jwks: unknown; jwksUri: string | null }) =>
        f.jwks ? 'inline' : f.jwksUri ? `jwks_uri ${f.jwksUri}` : 'discovery';
      if (jwks !== undefined || jwksUri !== undefined || input.discovery === true) {
        const next = { jwks: jwks ?? null, jwksUri: jwksUri ?? null };
        const changed =
          JSON.stringify(next.jwks) !== JSON.stringify(existing.jwks) || next.jwksUri !== existing.jwksUri;
        if (changed) {
          changes.key_source = { from: source(existing), to: source(next) };
          row.jwks = next.jwks ? JSON.stringify(next.jwks) : null;
          row.jwks_uri = next.jwksUri;
        }
      }
      if (Object.keys(changes).length === 0)
        invalid('nothing to change: every value given is the current one');
      await updateFederationRow(tx, id, row);
      return existing;
    },
    (existing) => ({
      event: 'federation.update',
      ...actorFields(actor),
      clientId: existing.clientId,
      detail: { id, changes, ...(allowOrgWide ? { allow_org_wide: true } : {}) },
    }),
  );
  return showFederation(deps, id);
}

/** Disables a federation: exchanges under it stop at once; `enableFederation` restores it. */
export function disableFederation(deps: FederationAdminDeps, id: string, actor: Actor): Promise<Federation> {
  return setDisabled(deps, id, true, actor);
}

export function enableFederation(deps: FederationAdminDeps, id: string, actor: Actor): Promise<Federation> {
  return setDisabled(deps, id, false, actor);
}

function setDisabled(
  deps: FederationAdminDeps,
  id: string,
  disable: boolean,
  actor: Actor,
): Promise<Federation> {
  const event = disable ? 'federation.disable' : 'federation.enable';
  return recordingRefusal(
    deps.audit,
    { event, actor, clientId: null, target: { id: id.slice(0, 64) } },
    async () => {
      const existing = await showFederation(deps, id);
      await deps.audit.transact(
        async (tx) => {
          if (!(await setFederationDisabled(tx, id, disable ? deps.clock() : null)))
            throw new AdminError(
              `federation ${id} is already ${disable ? 'disabled' : 'enabled'}`,
              'conflict',
            );
        },
        { event, ...actorFields(actor), clientId: existing.clientId, detail: { id } },
      );
      return showFederation(deps, id);
    },
  );
}

/**
 * Evaluates a workload token against the federation without issuing anything (nothing is recorded, the
 * token's `jti` is not spent): each condition by name, passed or failed. The token is never stored.
 */
export async function testFederation(
  deps: Pick<FederationAdminDeps, 'db' | 'clock'> & {
    issuerKeys?: EvaluateDeps['issuerKeys'];
    clockToleranceSeconds?: number;
  },
  id: string,
  token: string,
): Promise<{ federation: Federation; results: ConditionResult[]; pass: boolean }> {
  const federation = await showFederation(deps, id);
  const principal = await findClient(deps.db, federation.clientId);
  const results = await evaluateWorkloadToken(
    {
      issuerKeys: deps.issuerKeys ?? new IssuerKeys({ clock: deps.clock }),
      clock: deps.clock,
      clockToleranceSeconds: deps.clockToleranceSeconds ?? configDefaults.clockToleranceSeconds,
    },
    federation,
    principal,
    token,
  );
  return { federation, results, pass: results.every((r) => r.pass) };
}
