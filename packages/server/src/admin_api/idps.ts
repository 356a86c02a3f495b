/**
 * `/idps`: what `clavis admin idps …` does, on the same use cases, with the same views. The client
 * secret is taken in the create and update bodies, sealed, and never answered.
 */
import * as adminIdps from '../admin/idps.js';
import { deletedIdpJson } from '../admin/views.js';
import type { ResourceDeps } from './deps.js';
import { pageOf, pageQuerySchema } from './pagination.js';
import { type AdminRoute, route } from './route.js';
import {
  body,
  boolean,
  deletedIdpSchema,
  idpLinkSchema,
  idpSchema,
  list,
  object,
  text,
  textList,
  unlinkedSchema,
} from './schemas.js';

const TAG = 'idps';
const idParams = object({ id: { type: 'string', minLength: 1, maxLength: 128 } });

interface Params {
  id: string;
}

interface Settings {
  issuer?: string;
  client_id?: string;
  client_secret?: string;
  scopes?: string[];
  claim_username?: string;
  claim_email?: string;
  claim_groups?: string;
  allowed_groups?: string[] | null;
  mfa_from_amr?: boolean;
  acr_values?: string[];
  local_passwords?: boolean;
  session_lifetime_seconds?: number;
}

const settings = {
  issuer: text(2048),
  client_id: text(256),
  client_secret: { type: 'string', minLength: 1, maxLength: 1024, writeOnly: true },
  scopes: textList(128),
  claim_username: text(128),
  claim_email: text(128),
  claim_groups: text(128),
  allowed_groups: { type: ['array', 'null'], maxItems: 100, items: { type: 'string', maxLength: 256 } },
  mfa_from_amr: boolean,
  acr_values: textList(256),
  local_passwords: boolean,
  session_lifetime_seconds: { type: 'integer', minimum: 0, maximum: 10 * 365 * 86_400 },
};

function settingsOf(b: Settings): adminIdps.IdpSettings {
  return {
    ...(b.issuer !== undefined ? { issuer: b.issuer } : {}),
    ...(b.client_id !== undefined ? { clientId: b.client_id } : {}),
    ...(b.client_secret !== undefined ? { clientSecret: b.client_secret } : {}),
    ...(b.scopes !== undefined ? { scopes: b.scopes } : {}),
    ...(b.claim_username !== undefined ? { claimUsername: b.claim_username } : {}),
    ...(b.claim_email !== undefined ? { claimEmail: b.claim_email } : {}),
    ...(b.claim_groups !== undefined ? { claimGroups: b.claim_groups } : {}),
    ...(b.allowed_groups !== undefined ? { allowedGroups: b.allowed_groups } : {}),
    ...(b.mfa_from_amr !== undefined ? { mfaFromAmr: b.mfa_from_amr } : {}),
    ...(b.acr_values !== undefined ? { acrValues: b.acr_values } : {}),
    ...(b.local_passwords !== undefined ? { localPasswords: b.local_passwords } : {}),
    ...(b.session_lifetime_seconds !== undefined
      ? { sessionLifetimeSeconds: b.session_lifetime_seconds }
      : {}),
  };
}

export function idpRoutes(deps: ResourceDeps): AdminRoute[] {
  const { admin } = deps;
  const idpDeps: adminIdps.IdpAdminDeps = {
    db: admin.db,
    audit: admin.audit,
    clock: admin.clock,
    idpSealKey: deps.idpSealKey,
  };
  const show = (params: Params) => adminIdps.showIdp(admin, params.id);
  return [
    route<unknown, { limit?: number; cursor?: string }, unknown>({
      method: 'GET',
      url: '/idps',
      operationId: 'listIdps',
      summary: 'List identity providers with how many people each links (clavis admin idps list)',
      tag: TAG,
      access: 'read',
      schema: {
        querystring: { type: 'object', properties: pageQuerySchema, additionalProperties: false },
        responses: { 200: { description: 'The providers', schema: list(idpSchema) } },
      },
      handler: async ({ query }) => ({ status: 200, body: pageOf(await adminIdps.listIdps(admin), query) }),
    }),
    route<
      unknown,
      unknown,
      Settings & { name: string; issuer: string; client_id: string; client_secret: string }
    >({
      method: 'POST',
      url: '/idps',
      operationId: 'createIdp',
      summary:
        'Add an upstream OpenID provider people sign in through; the issuer is not contacted (clavis admin idps create)',
      tag: TAG,
      access: 'change',
      idempotent: true,
      schema: {
        body: body({ name: text(64), ...settings }, ['name', 'issuer', 'client_id', 'client_secret']),
        responses: {
          201: {
            description: 'The provider (never its client secret)',
            schema: idpSchema,
            headers: { Location: 'The new provider' },
          },
        },
      },
      handler: async ({ body: b, caller }) => {
        const idp = await adminIdps.createIdp(
          idpDeps,
          {
            ...settingsOf(b),
            name: b.name,
            issuer: b.issuer,
            clientId: b.client_id,
            clientSecret: b.client_secret,
          },
          caller.actor,
        );
        return {
          status: 201,
          headers: { location: `/admin/v1/idps/${encodeURIComponent(idp.id)}` },
          body: idp,
        };
      },
    }),
    route<Params, unknown, unknown>({
      method: 'GET',
      url: '/idps/:id',
      operationId: 'showIdp',
      summary: 'Show an identity provider, by id or name (clavis admin idps show)',
      tag: TAG,
      access: 'read',
      etag: true,
      schema: {
        params: idParams,
        responses: { 200: { description: 'The provider', schema: idpSchema } },
      },
      handler: async ({ params }) => ({ status: 200, body: await show(params) }),
    }),
    route<Params, unknown, Settings & { name?: string }>({
      method: 'PATCH',
      url: '/idps/:id',
      operationId: 'updateIdp',
      summary:
        'Change an identity provider (clavis admin idps update): what is given replaces what is stored; allowed_groups null lets anyone in',
      tag: TAG,
      access: 'change',
      ifMatch: { current: show, id: 'id' },
      schema: {
        params: idParams,
        body: body({ name: text(64), ...settings }),
        responses: { 200: { description: 'The provider as changed', schema: idpSchema } },
      },
      handler: async ({ params, body: b, caller }) => ({
        status: 200,
        body: await adminIdps.updateIdp(
          idpDeps,
          params.id,
          { ...settingsOf(b), ...(b.name !== undefined ? { name: b.name } : {}) },
          caller.actor,
        ),
      }),
    }),
    route<Params, unknown, unknown>({
      method: 'DELETE',
      url: '/idps/:id',
      operationId: 'deleteIdp',
      summary:
        'Delete an identity provider with its links; the people it linked sign in again (clavis admin idps delete)',
      tag: TAG,
      access: 'destructive',
      schema: {
        params: idParams,
        responses: { 200: { description: 'What went with it', schema: deletedIdpSchema } },
      },
      handler: async ({ params, caller }) => ({
        status: 200,
        body: deletedIdpJson(await adminIdps.deleteIdp(idpDeps, params.id, caller.actor)),
      }),
    }),
    route<Params, { limit?: number; cursor?: string; stale_days?: number }, unknown>({
      method: 'GET',
      url: '/idps/:id/links',
      operationId: 'listIdpLinks',
      summary:
        'The people linked through a provider; with stale_days, only those not signed in for that long (clavis admin idps links|stale)',
      tag: TAG,
      access: 'read',
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: { ...pageQuerySchema, stale_days: { type: 'integer', minimum: 1, maximum: 3650 } },
          additionalProperties: false,
        },
        responses: { 200: { description: 'The links', schema: list(idpLinkSchema) } },
      },
      handler: async ({ params, query }) => ({
        status: 200,
        body: pageOf(await adminIdps.listIdpLinks(admin, params.id, query.stale_days), query),
      }),
    }),
    route<Params, unknown, { user: string; subject: string }>({
      method: 'POST',
      url: '/idps/:id/links',
      operationId: 'linkIdp',
      summary:
        'Link an existing person to an upstream subject, so they sign in through the provider (clavis admin idps link)',
      tag: TAG,
      access: 'change',
      idempotent: true,
      schema: {
        params: idParams,
        body: body({ user: text(128), subject: { type: 'string', minLength: 1, maxLength: 255 } }, [
          'user',
          'subject',
        ]),
        responses: { 201: { description: 'The link', schema: idpLinkSchema } },
      },
      handler: async ({ params, body: b, caller }) => ({
        status: 201,
        body: await adminIdps.linkIdp(idpDeps, params.id, { user: b.user, subject: b.subject }, caller.actor),
      }),
    }),
    route<Params & { subject: string }, unknown, unknown>({
      method: 'DELETE',
      url: '/idps/:id/links/:subject',
      operationId: 'unlinkIdp',
      summary: 'Unlink an upstream subject; their terminals sign in again (clavis admin idps unlink)',
      tag: TAG,
      access: 'destructive',
      schema: {
        params: object({
          id: { type: 'string', minLength: 1, maxLength: 128 },
          subject: { type: 'string', minLength: 1, maxLength: 255 },
        }),
        responses: { 200: { description: 'Unlinked', schema: unlinkedSchema } },
      },
      handler: async ({ params, caller }) => {
        const { revokedFamilies } = await adminIdps.unlinkIdp(
          idpDeps,
          params.id,
          params.subject,
          caller.actor,
        );
        return { status: 200, body: { unlinked: true, revoked_families: revokedFamilies } };
      },
    }),
  ];
}
