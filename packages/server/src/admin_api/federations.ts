/** `/federations`: what `clavis admin federations …` does, on the same use cases, with the same views. */
import * as adminFederations from '../admin/federations.js';
import { federationTestJson, federationWithWarningsJson } from '../admin/views.js';
import { federationView } from '../federation/federation.js';
import type { ResourceDeps } from './deps.js';
import { pageOf, pageQuerySchema } from './pagination.js';
import { type AdminRoute, route } from './route.js';
import {
  body,
  boolean,
  federationSchema,
  federationTestSchema,
  federationWithWarningsSchema,
  list,
  object,
  seconds,
  text,
  textList,
} from './schemas.js';

const TAG = 'federations';
const idParams = object({ id: { type: 'string', minLength: 1, maxLength: 128 } });
const conditions = {
  type: 'array',
  maxItems: 50,
  items: {
    type: 'object',
    properties: { claim: text(128), pattern: text(512) },
    required: ['claim', 'pattern'],
    additionalProperties: false,
  },
};

interface Params {
  id: string;
}

interface Changes {
  audience?: string;
  conditions?: Array<{ claim: string; pattern: string }>;
  jwks?: unknown;
  jwks_uri?: string;
  scopes?: string[];
  max_ttl_seconds?: number;
  name?: string;
  allow_org_wide?: boolean;
}

const changeable = {
  audience: text(512),
  conditions,
  jwks: { type: 'object' },
  jwks_uri: text(2048),
  scopes: textList(128),
  max_ttl_seconds: seconds,
  name: text(100),
  allow_org_wide: boolean,
};

function changes(b: Changes) {
  return {
    ...(b.audience !== undefined ? { audience: b.audience } : {}),
    ...(b.conditions !== undefined ? { conditions: b.conditions } : {}),
    ...(b.jwks !== undefined ? { jwks: b.jwks } : {}),
    ...(b.jwks_uri !== undefined ? { jwksUri: b.jwks_uri } : {}),
    ...(b.scopes !== undefined ? { scopes: b.scopes } : {}),
    ...(b.max_ttl_seconds !== undefined ? { maxTtlSeconds: b.max_ttl_seconds } : {}),
    ...(b.name !== undefined ? { name: b.name } : {}),
    ...(b.allow_org_wide ? { allowOrgWide: true } : {}),
  };
}

export function federationRoutes(deps: ResourceDeps): AdminRoute[] {
  const { admin } = deps;
  const show = async (params: Params) =>
    federationView(await adminFederations.showFederation(admin, params.id));
  const toggle = (name: 'disable' | 'enable') =>
    route<Params, unknown, unknown>({
      method: 'POST',
      url: `/federations/:id/${name}`,
      operationId: `${name}Federation`,
      summary: `${name === 'disable' ? 'Disable' : 'Enable'} a federation (clavis admin federations ${name})`,
      tag: TAG,
      access: name === 'disable' ? 'destructive' : 'change',
      schema: {
        params: idParams,
        responses: { 200: { description: 'The federation', schema: federationSchema } },
      },
      handler: async ({ params, caller }) => ({
        status: 200,
        body: federationView(
          name === 'disable'
            ? await adminFederations.disableFederation(admin, params.id, caller.actor)
            : await adminFederations.enableFederation(admin, params.id, caller.actor),
        ),
      }),
    });
  return [
    route<unknown, { limit?: number; cursor?: string }, unknown>({
      method: 'GET',
      url: '/federations',
      operationId: 'listFederations',
      summary: 'List federations (clavis admin federations list)',
      tag: TAG,
      access: 'read',
      schema: {
        querystring: { type: 'object', properties: pageQuerySchema, additionalProperties: false },
        responses: { 200: { description: 'The federations', schema: list(federationSchema) } },
      },
      handler: async ({ query }) => ({
        status: 200,
        body: pageOf((await adminFederations.listFederations(admin)).map(federationView), query),
      }),
    }),
    route<unknown, unknown, Changes & { client_id: string; issuer?: string; preset?: string }>({
      method: 'POST',
      url: '/federations',
      operationId: 'createFederation',
      summary: 'Trust workload tokens of an issuer for a client (clavis admin federations create)',
      tag: TAG,
      access: 'change',
      idempotent: true,
      schema: {
        body: body({ client_id: text(128), issuer: text(2048), preset: text(40), ...changeable }, [
          'client_id',
          'audience',
          'conditions',
        ]),
        responses: {
          201: {
            description: 'The federation, and warnings about its policy',
            schema: federationWithWarningsSchema,
            headers: { Location: 'The new federation' },
          },
        },
      },
      handler: async ({ body: b, caller }) => {
        const federation = await adminFederations.createFederation(
          admin,
          {
            clientId: b.client_id,
            audience: b.audience ?? '',
            conditions: b.conditions ?? [],
            ...changes(b),
            ...(b.issuer !== undefined ? { issuer: b.issuer } : {}),
            ...(b.preset !== undefined ? { preset: b.preset } : {}),
          },
          caller.actor,
        );
        return {
          status: 201,
          headers: { location: `/admin/v1/federations/${encodeURIComponent(federation.id)}` },
          body: federationWithWarningsJson(federation),
        };
      },
    }),
    route<Params, unknown, unknown>({
      method: 'GET',
      url: '/federations/:id',
      operationId: 'showFederation',
      summary: 'Show a federation (clavis admin federations show)',
      tag: TAG,
      access: 'read',
      etag: true,
      schema: {
        params: idParams,
        responses: { 200: { description: 'The federation', schema: federationSchema } },
      },
      handler: async ({ params }) => ({ status: 200, body: await show(params) }),
    }),
    route<Params, unknown, Changes & { discovery?: boolean }>({
      method: 'PATCH',
      url: '/federations/:id',
      operationId: 'updateFederation',
      summary: 'Change a federation (clavis admin federations update): what is given replaces what is stored',
      tag: TAG,
      access: 'change',
      ifMatch: { current: show, id: 'id' },
      schema: {
        params: idParams,
        body: body({ ...changeable, discovery: boolean }),
        responses: {
          200: {
            description: 'The federation as changed, and warnings',
            schema: federationWithWarningsSchema,
          },
        },
      },
      handler: async ({ params, body: b, caller }) => {
        const federation = await adminFederations.updateFederation(
          admin,
          params.id,
          { ...changes(b), ...(b.discovery ? { discovery: true } : {}) },
          caller.actor,
        );
        return { status: 200, body: federationWithWarningsJson(federation) };
      },
    }),
    route<Params, unknown, unknown>({
      method: 'DELETE',
      url: '/federations/:id',
      operationId: 'deleteFederation',
      summary: 'Delete a federation (clavis admin federations delete)',
      tag: TAG,
      access: 'destructive',
      schema: { params: idParams, responses: { 204: { description: 'Deleted' } } },
      handler: async ({ params, caller }) => {
        await adminFederations.deleteFederation(admin, params.id, caller.actor);
        return { status: 204 };
      },
    }),
    toggle('disable'),
    toggle('enable'),
    route<Params, unknown, { token: string }>({
      method: 'POST',
      url: '/federations/:id/test',
      operationId: 'testFederation',
      summary:
        'Evaluate a workload token against a federation, issuing nothing (clavis admin federations test)',
      tag: TAG,
      access: 'read',
      schema: {
        params: idParams,
        body: body({ token: { type: 'string', minLength: 1, maxLength: 16_384 } }, ['token']),
        responses: { 200: { description: 'Each condition, passed or failed', schema: federationTestSchema } },
      },
      handler: async ({ params, body: b }) => {
        const outcome = await adminFederations.testFederation(
          { ...admin, issuerKeys: deps.issuerKeys, clockToleranceSeconds: deps.clockToleranceSeconds },
          params.id,
          b.token,
        );
        return { status: 200, body: federationTestJson(params.id, outcome) };
      },
    }),
  ];
}
