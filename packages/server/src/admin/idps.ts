/**
 * Administering identity providers for single sign-on: create, list, show, update, delete; link an
 * existing person to an upstream identity (the only way a person who already exists here comes to sign
 * in through a provider); unlink; and list linked people who have not signed in for long. Every change
 * commits with its audit record. The client secret is sealed under the KEK on the way in and never
 * returned, shown or recorded.
 */
import { isScopeToken } from '@clavis/core';
import type { Kysely } from 'kysely';
import { randomId } from '../crypto/secrets.js';
import { checkIssuer, PolicyError } from '../federation/policy.js';
import { IDP_DEFAULTS, type IdentityProvider, toIdentityProvider } from '../idps/identity_provider.js';
import { sealIdpSecret } from '../idps/idp_secret.js';
import {
  deleteIdentityProvider,
  deleteLink,
  findIdentityProvider,
  findLink,
  insertIdentityProvider,
  insertLink,
  type LinkedPerson,
  listIdentityProviders,
  listLinks,
  updateIdentityProvider,
} from '../idps/idp_store.js';
import { listLiveFamilies, revokeFamily } from '../refresh/refresh_store.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Database, IdentityProvidersTable } from '../storage/schema.js';
import { findUserSummary } from '../users/user_store.js';
import { type Actor, actorFields, recordingRefusal } from './actor.js';
import type { AdminDeps } from './clients.js';
import { AdminError } from './errors.js';

export type IdpAdminDeps = Pick<AdminDeps, 'db' | 'audit' | 'clock'> & {
  /** Seals client secrets: the current KEK's `idp-sealing` key (`services.idpKeys.seal`). */
  idpSealKey: Buffer;
};

const namePattern = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
const claimPattern = /^[A-Za-z0-9_:./-]{1,128}$/;
const MAX_SECRET = 1024;

/** A provider as administrators see it: everything but the client secret. */
export interface IdpView {
  id: string;
  name: string;
  issuer: string;
  client_id: string;
  scopes: string[];
  claims: { username: string; email: string; groups: string };
  allowed_groups: string[] | null;
  mfa_from_amr: boolean;
  acr_values: string[];
  local_passwords: boolean;
  session_lifetime_seconds: number;
  created_at: string;
  updated_at: string;
  /** How many people are linked through it. */
  links?: number;
}

function view(idp: IdentityProvider, links?: number): IdpView {
  return {
    id: idp.id,
    name: idp.name,
    issuer: idp.issuer,
    client_id: idp.clientId,
    scopes: idp.scopes,
    claims: idp.claims,
    allowed_groups: idp.allowedGroups,
    mfa_from_amr: idp.mfaFromAmr,
    acr_values: idp.mfaAcrValues,
    local_passwords: idp.localPasswords,
    session_lifetime_seconds: idp.sessionLifetimeSeconds,
    created_at: new Date(idp.createdAt).toISOString(),
    updated_at: new Date(idp.updatedAt).toISOString(),
    ...(links === undefined ? {} : { links }),
  };
}

function invalid(message: string): never {
  throw new AdminError(message, 'invalid_input');
}

export interface IdpSettings {
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  scopes?: string[];
  claimUsername?: string;
  claimEmail?: string;
  claimGroups?: string;
  /** Empty array or null: anyone the provider signs in. */
  allowedGroups?: string[] | null;
  mfaFromAmr?: boolean;
  acrValues?: string[];
  localPasswords?: boolean;
  sessionLifetimeSeconds?: number;
}

export interface CreateIdpInput extends IdpSettings {
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
}

function checkName(name: string): string {
  if (!namePattern.test(name))
    invalid('name must be 1 to 64 characters of A-Z a-z 0-9 space . _ - (starting with a letter or digit)');
  if (name.startsWith('idp_')) invalid('name must not start with idp_');
  return name;
}

function checkStringList(what: string, values: readonly string[], max = 100): string[] {
  if (values.length > max) invalid(`at most ${max} ${what}`);
  for (const v of values)
    if (!v || v.length > 256 || /\p{Cc}/u.test(v)) invalid(`${what}: "${v.slice(0, 40)}" is not valid`);
  return [...new Set(values)];
}

/** The row fields `settings` set, checked. */
function settingsColumns(settings: IdpSettings): Partial<IdentityProvidersTable> {
  const out: Partial<IdentityProvidersTable> = {};
  if (settings.issuer !== undefined) {
    try {
      checkIssuer(settings.issuer);
    } catch (err) {
      if (err instanceof PolicyError) invalid(err.message);
      throw err;
    }
    out.issuer = settings.issuer;
  }
  if (settings.clientId !== undefined) {
    if (!settings.clientId || settings.clientId.length > 256 || /\p{Cc}/u.test(settings.clientId))
      invalid('client id must be 1 to 256 printable characters');
    out.client_id = settings.clientId;
  }
  if (settings.scopes !== undefined) {
    for (const s of settings.scopes) if (!isScopeToken(s)) invalid(`scope "${s.slice(0, 40)}" is not valid`);
    out.scopes = [...new Set(['openid', ...settings.scopes])].join(' ');
  }
  for (const [key, column] of [
    ['claimUsername', 'claim_username'],
    ['claimEmail', 'claim_email'],
    ['claimGroups', 'claim_groups'],
  ] as const) {
    const value = settings[key];
    if (value === undefined) continue;
    if (!claimPattern.test(value)) invalid(`claim name "${value.slice(0, 40)}" is not valid`);
    out[column] = value;
  }
  if (settings.allowedGroups !== undefined) {
    out.allowed_groups =
      settings.allowedGroups === null || settings.allowedGroups.length === 0
        ? null
        : JSON.stringify(checkStringList('allowed groups', settings.allowedGroups, 1000));
  }
  if (settings.mfaFromAmr !== undefined) out.mfa_from_amr = settings.mfaFromAmr ? 1 : 0;
  if (settings.acrValues !== undefined)
    out.mfa_acr_values = JSON.stringify(checkStringList('acr values', settings.acrValues));
  if (settings.localPasswords !== undefined) out.local_passwords = settings.localPasswords ? 1 : 0;
  if (settings.sessionLifetimeSeconds !== undefined) {
    const s = settings.sessionLifetimeSeconds;
    if (!Number.isInteger(s) || s < 300 || s > 30 * 86_400)
      invalid('the upstream session lifetime must be between 5 minutes and 30 days (seconds)');
    out.session_lifetime_seconds = s;
  }
  return out;
}

function checkSecret(secret: string): string {
  if (!secret || secret.length > MAX_SECRET || /\p{Cc}/u.test(secret))
    invalid(`the client secret must be 1 to ${MAX_SECRET} printable characters`);
  return secret;
}

/** What is recorded about a provider's settings: never the secret. */
function auditSettings(settings: IdpSettings): Record<string, unknown> {
  const { clientSecret, ...rest } = settings;
  return { ...rest, ...(clientSecret !== undefined ? { client_secret: 'changed' } : {}) };
}

export function createIdp(deps: IdpAdminDeps, input: CreateIdpInput, actor: Actor): Promise<IdpView> {
  return recordingRefusal(
    deps.audit,
    { event: 'idp.create', actor, target: { name: String(input.name).slice(0, 64) } },
    async () => {
      const name = checkName(input.name);
      const columns = settingsColumns(input);
      const secret = checkSecret(input.clientSecret);
      const now = deps.clock();
      const id = randomId('idp_');
      const row = {
        id,
        name,
        issuer: input.issuer,
        client_id: input.clientId,
        client_secret: sealIdpSecret(deps.idpSealKey, id, secret),
        scopes: IDP_DEFAULTS.scopes.join(' '),
        claim_username: IDP_DEFAULTS.claims.username,
        claim_email: IDP_DEFAULTS.claims.email,
        claim_groups: IDP_DEFAULTS.claims.groups,
        allowed_groups: null,
        mfa_from_amr: 0,
        mfa_acr_values: '[]',
        local_passwords: 1,
        session_lifetime_seconds: IDP_DEFAULTS.sessionLifetimeSeconds,
        created_at: now,
        updated_at: now,
        ...columns,
      };
      try {
        await deps.audit.transact((tx) => insertIdentityProvider(tx, row), {
          event: 'idp.create',
          ...actorFields(actor),
          detail: { idp: id, name, ...auditSettings(input) },
        });
      } catch (err) {
        if (isUniqueViolation(err))
          throw new AdminError(`an identity provider named ${name} exists`, 'conflict');
        throw err;
      }
      return view(toIdentityProvider(row), 0);
    },
  );
}

export async function listIdps(deps: Pick<AdminDeps, 'db'>): Promise<IdpView[]> {
  const rows = await listIdentityProviders(deps.db);
  const counts = await linkCounts(deps.db);
  return rows.map((r) => view(toIdentityProvider(r), counts.get(r.id) ?? 0));
}

async function linkCounts(db: Kysely<Database>): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('identity_links')
    .select(['idp_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('idp_id')
    .execute();
  return new Map(rows.map((r) => [r.idp_id, Number(r.n)]));
}

async function requireIdp(db: Kysely<Database>, nameOrId: string) {
  const row = await findIdentityProvider(db, nameOrId);
  if (!row) throw new AdminError(`no identity provider ${nameOrId.slice(0, 64)}`, 'not_found');
  return row;
}

export async function showIdp(deps: Pick<AdminDeps, 'db'>, nameOrId: string): Promise<IdpView> {
  const row = await requireIdp(deps.db, nameOrId);
  return view(toIdentityProvider(row), (await linkCounts(deps.db)).get(row.id) ?? 0);
}

export function updateIdp(
  deps: IdpAdminDeps,
  nameOrId: string,
  changes: IdpSettings & { name?: string },
  actor: Actor,
): Promise<IdpView> {
  return recordingRefusal(
    deps.audit,
    { event: 'idp.update', actor, target: { idp: nameOrId.slice(0, 64) } },
    async () => {
      const row = await requireIdp(deps.db, nameOrId);
      const columns: Partial<IdentityProvidersTable> = settingsColumns(changes);
      if (changes.name !== undefined) columns.name = checkName(changes.name);
      if (changes.clientSecret !== undefined)
        columns.client_secret = sealIdpSecret(deps.idpSealKey, row.id, checkSecret(changes.clientSecret));
      if (Object.keys(columns).length === 0) invalid('nothing to change');
      const now = Math.max(deps.clock(), Number(row.updated_at) + 1);
      let ok: boolean;
      try {
        ok = await deps.audit.transact(
          (tx) => updateIdentityProvider(tx, row.id, Number(row.updated_at), { ...columns, updated_at: now }),
          (done) =>
            done
              ? {
                  event: 'idp.update',
                  ...actorFields(actor),
                  detail: { idp: row.id, name: row.name, ...auditSettings(changes) },
                }
              : null,
        );
      } catch (err) {
        if (isUniqueViolation(err))
          throw new AdminError(`an identity provider named ${changes.name} exists`, 'conflict');
        throw err;
      }
      if (!ok) throw new AdminError('the identity provider changed meanwhile: run it again', 'conflict');
      return showIdp(deps, row.id);
    },
  );
}

export interface DeletedIdp {
  idp: IdpView;
  unlinked: number;
  /** Refresh families of the people it linked, revoked: they sign in again. */
  revokedFamilies: number;
}

/**
 * Deletes a provider with its links, and revokes the refresh families of the people it linked: their
 * terminals sign in again (locally, or through another provider). The people themselves stay.
 */
export function deleteIdp(deps: IdpAdminDeps, nameOrId: string, actor: Actor): Promise<DeletedIdp> {
  return recordingRefusal(
    deps.audit,
    { event: 'idp.delete', actor, target: { idp: nameOrId.slice(0, 64) } },
    async () => {
      const row = await requireIdp(deps.db, nameOrId);
      const shown = await showIdp(deps, row.id);
      const now = deps.clock();
      const result = await deps.audit.transact(
        async (tx) => {
          const people = await deleteIdentityProvider(tx, row.id);
          if (people === undefined)
            throw new AdminError(`no identity provider ${nameOrId.slice(0, 64)}`, 'not_found');
          let revoked = 0;
          for (const userId of people) {
            for (const family of await listLiveFamilies(tx, userId, now)) {
              if (await revokeFamily(tx, family.id, 'identity_provider_deleted', now)) revoked++;
            }
          }
          return { unlinked: people.length, revokedFamilies: revoked };
        },
        (r) => ({
          event: 'idp.delete',
          ...actorFields(actor),
          detail: { idp: row.id, name: row.name, unlinked: r.unlinked, revoked_families: r.revokedFamilies },
        }),
      );
      return { idp: shown, ...result };
    },
  );
}

export interface LinkView {
  idp: string;
  upstream_issuer: string;
  upstream_subject: string;
  user_id: string;
  username: string;
  disabled: boolean;
  created_at: string;
  last_sign_in_at: string | null;
}

function linkView(idpName: string, l: LinkedPerson): LinkView {
  return {
    idp: idpName,
    upstream_issuer: l.issuer,
    upstream_subject: l.subject,
    user_id: l.user_id,
    username: l.username,
    disabled: l.disabled_at !== null,
    created_at: new Date(Number(l.created_at)).toISOString(),
    last_sign_in_at: l.last_sign_in_at === null ? null : new Date(Number(l.last_sign_in_at)).toISOString(),
  };
}

/** The people linked through a provider; with `staleDays`, only those not signed in for that long. */
export async function listIdpLinks(
  deps: Pick<AdminDeps, 'db' | 'clock'>,
  nameOrId: string,
  staleDays?: number,
): Promise<LinkView[]> {
  if (staleDays !== undefined && (!Number.isInteger(staleDays) || staleDays < 1 || staleDays > 3650))
    invalid('days must be a whole number from 1 to 3650');
  const row = await requireIdp(deps.db, nameOrId);
  const before = staleDays === undefined ? undefined : deps.clock() - staleDays * 86_400_000;
  return (await listLinks(deps.db, row.id, before)).map((l) => linkView(row.name, l));
}

/**
 * Links an existing person to an upstream identity (its `sub` at the provider): how a person who has a
 * local account comes to sign in through the provider. Refused when the identity is linked already.
 */
export function linkIdp(
  deps: IdpAdminDeps,
  nameOrId: string,
  input: { user: string; subject: string },
  actor: Actor,
): Promise<LinkView> {
  return recordingRefusal(
    deps.audit,
    { event: 'idp.link', actor, target: { idp: nameOrId.slice(0, 64), user: input.user.slice(0, 64) } },
    async () => {
      const row = await requireIdp(deps.db, nameOrId);
      if (!input.subject || input.subject.length > 255)
        invalid('the upstream subject must be 1 to 255 characters');
      const user = await findUserSummary(deps.db, input.user);
      if (!user) throw new AdminError(`no user ${input.user.slice(0, 64)}`, 'not_found');
      if (await findLink(deps.db, row.issuer, input.subject))
        throw new AdminError('that upstream identity is linked already', 'conflict');
      const now = deps.clock();
      const link = {
        issuer: row.issuer,
        subject: input.subject,
        idp_id: row.id,
        user_id: user.id,
        created_at: now,
        last_sign_in_at: null,
      };
      try {
        await deps.audit.transact((tx) => insertLink(tx, link), {
          event: 'idp.link',
          ...actorFields(actor),
          detail: {
            idp: row.name,
            upstream_issuer: row.issuer,
            upstream_subject: input.subject,
            user: user.username,
            provisioned: false,
          },
        });
      } catch (err) {
        if (isUniqueViolation(err))
          throw new AdminError('that upstream identity is linked already', 'conflict');
        throw err;
      }
      return linkView(row.name, { ...link, username: user.username, disabled_at: user.disabled_at });
    },
  );
}

/** Removes a link, and revokes the person's refresh families (they sign in again). */
export function unlinkIdp(
  deps: IdpAdminDeps,
  nameOrId: string,
  subject: string,
  actor: Actor,
): Promise<{ revokedFamilies: number }> {
  return recordingRefusal(
    deps.audit,
    { event: 'idp.unlink', actor, target: { idp: nameOrId.slice(0, 64) } },
    async () => {
      const row = await requireIdp(deps.db, nameOrId);
      const link = await findLink(deps.db, row.issuer, subject);
      if (!link || link.idp_id !== row.id) throw new AdminError('no such link', 'not_found');
      const now = deps.clock();
      const revokedFamilies = await deps.audit.transact(
        async (tx) => {
          if (!(await deleteLink(tx, row.issuer, subject))) throw new AdminError('no such link', 'not_found');
          let revoked = 0;
          for (const family of await listLiveFamilies(tx, link.user_id, now)) {
            if (await revokeFamily(tx, family.id, 'identity_link_removed', now)) revoked++;
          }
          return revoked;
        },
        (revoked) => ({
          event: 'idp.unlink',
          ...actorFields(actor),
          detail: {
            idp: row.name,
            upstream_issuer: row.issuer,
            upstream_subject: subject,
            user_id: link.user_id,
            revoked_families: revoked,
          },
        }),
      );
      return { revokedFamilies };
    },
  );
}
