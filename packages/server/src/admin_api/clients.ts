/** `/clients`: what `clavis admin clients …` does, on the same use cases, answering with the same views. */
import * as adminClientSecrets from '../admin/client_secrets.js';
import * as adminClients from '../admin/clients.js';
import { createdClientJson, revokedSecretJson, rotatedSecretJson } from '../admin/views.js';
import type { ClientAuthMethod, MfaRequirement } from '../clients/client.js';
import { clientView } from '../clients/client.js';
import type { ResourceDeps } from './deps.js';
import { pageOf, pageQuerySchema } from './pagination.js';
import { type AdminRoute, route } from './route.js';
import {
  body,
  boolean,
  clientSchema,
  clientSecretSchema,
  createdClientSchema,
  list,
  object,
  revokedSecretSchema,
  rotatedSecretSchema,
  seconds,
  text,
  textList,
} from './schemas.js';

const TAG = 'clients';
const idParams = object({ client_id: { type: 'string', minLength: 1, maxLength: 128 } });

interface ClientParams {
  client_id: string;
}

const updatable = {
  name: text(100),
  owner: text(128),
  grants: textList(100, 10),
  scopes: textList(128),
  audiences: textList(512),
  token_ttl_seconds: seconds,
  refresh_idle_ttl_seconds: seconds,
  refresh_absolute_ttl_seconds: seconds,
  // true: any second factor; 'phishing-resistant': a passkey or security key (TOTP is not enough).
  require_mfa: { anyOf: [boolean, { type: 'string', enum: ['phishing-resistant'] }] },
};

interface CreateBody {
  name: string;
  kind: 'public' | 'confidential';
  grants?: string[];
  scopes?: string[];
  auth_method?: string;
  jwks?: unknown;
  jwks_uri?: string;
  owner?: string;
  audiences?: string[];
  token_ttl_seconds?: number;
  secret_ttl_seconds?: number;
  require_mfa?: MfaRequirement;
  refresh_idle_ttl_seconds?: number;
  refresh_absolute_ttl_seconds?: number;
}

type UpdateBody = Partial<Pick<CreateBody, 'name' | 'owner' | 'grants' | 'scopes' | 'audiences'>> & {
  token_ttl_seconds?: number;
  refresh_idle_ttl_seconds?: number;
  refresh_absolute_ttl_seconds?: number;
  require_mfa?: MfaRequirement;
};

const defined = <T extends Record<string, unknown>>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export function clientRoutes(deps: ResourceDeps): AdminRoute[] {
  const { admin } = deps;
  const show = async (params: ClientParams) =>
    clientView(await adminClients.showClient(admin, params.client_id));
  return [
    route<unknown, { limit?: number; cursor?: string }, unknown>({
      method: 'GET',
      url: '/clients',
      operationId: 'listClients',
      summary: 'List clients (clavis admin clients list)',
      tag: TAG,
      access: 'read',
      schema: {
        querystring: { type: 'object', properties: pageQuerySchema, additionalProperties: false },
        responses: { 200: { description: 'The clients', schema: list(clientSchema) } },
      },
      handler: async ({ query }) => ({
        status: 200,
        body: pageOf((await adminClients.listClients(admin)).map(clientView), query),
      }),
    }),
    route<unknown, unknown, CreateBody>({
      method: 'POST',
      url: '/clients',
      operationId: 'createClient',
      summary: 'Register a client (clavis admin clients create); a generated secret is in the answer, once',
      tag: TAG,
      access: 'change',
      idempotent: true,
      schema: {
        body: body(
          {
            kind: { type: 'string', enum: ['public', 'confidential'] },
            auth_method: text(40),
            jwks: { type: 'object' },
            jwks_uri: text(2048),
            secret_ttl_seconds: seconds,
            ...updatable,
          },
          ['name', 'kind'],
        ),
        responses: {
          201: {
            description: 'The client, with its one-time secret when it has one',
            schema: createdClientSchema,
            headers: { Location: 'The new client' },
          },
        },
      },
      handler: async ({ body: b, caller }) => {
        const { client, secret } = await adminClients.createClient(
          admin,
          defined({
            name: b.name,
            kind: b.kind,
            grants: b.grants,
            scopes: b.scopes,
            authMethod: b.auth_method as ClientAuthMethod | undefined,
            jwks: b.jwks,
            jwksUri: b.jwks_uri,
            owner: b.owner,
            audiences: b.audiences,
            tokenTtlSeconds: b.token_ttl_seconds,
            secretTtlSeconds: b.secret_ttl_seconds,
            requireMfa: b.require_mfa,
            refreshIdleTtlSeconds: b.refresh_idle_ttl_seconds,
            refreshAbsoluteTtlSeconds: b.refresh_absolute_ttl_seconds,
          }) as adminClients.CreateClientInput,
          caller.actor,
        );
        return {
          status: 201,
          headers: { location: `/admin/v1/clients/${encodeURIComponent(client.id)}` },
          body: createdClientJson(client, secret),
        };
      },
    }),
    route<ClientParams, unknown, unknown>({
      method: 'GET',
      url: '/clients/:client_id',
      operationId: 'showClient',
      summary: 'Show a client (clavis admin clients show)',
      tag: TAG,
      access: 'read',
      etag: true,
      schema: { params: idParams, responses: { 200: { description: 'The client', schema: clientSchema } } },
      handler: async ({ params }) => ({ status: 200, body: await show(params) }),
    }),
    route<ClientParams, unknown, UpdateBody>({
      method: 'PATCH',
      url: '/clients/:client_id',
      operationId: 'updateClient',
      summary: 'Change a client (clavis admin clients update): what is given replaces what is stored',
      tag: TAG,
      access: 'change',
      ifMatch: { current: show, id: 'client_id' },
      schema: {
        params: idParams,
        body: body(updatable),
        responses: { 200: { description: 'The client as changed', schema: clientSchema } },
      },
      handler: async ({ params, body: b, caller }) => {
        const client = await adminClients.updateClient(
          admin,
          params.client_id,
          defined({
            name: b.name,
            owner: b.owner,
            grants: b.grants,
            scopes: b.scopes,
            audiences: b.audiences,
            tokenTtlSeconds: b.token_ttl_seconds,
            refreshIdleTtlSeconds: b.refresh_idle_ttl_seconds,
            refreshAbsoluteTtlSeconds: b.refresh_absolute_ttl_seconds,
            requireMfa: b.require_mfa,
          }),
          caller.actor,
        );
        return { status: 200, body: clientView(client) };
      },
    }),
    route<ClientParams, unknown, unknown>({
      method: 'DELETE',
      url: '/clients/:client_id',
      operationId: 'deleteClient',
      summary:
        'Delete a client, its secrets and federations; revoke its API keys (clavis admin clients delete)',
      tag: TAG,
      access: 'destructive',
      schema: { params: idParams, responses: { 204: { description: 'Deleted' } } },
      handler: async ({ params, caller }) => {
        await adminClients.deleteClient(admin, params.client_id, caller.actor);
        return { status: 204 };
      },
    }),
    route<ClientParams, unknown, unknown>({
      method: 'POST',
      url: '/clients/:client_id/disable',
      operationId: 'disableClient',
      summary: 'Disable a client (clavis admin clients disable)',
      tag: TAG,
      access: 'destructive',
      schema: { params: idParams, responses: { 200: { description: 'The client', schema: clientSchema } } },
      handler: async ({ params, caller }) => ({
        status: 200,
        body: clientView(await adminClients.disableClient(admin, params.client_id, caller.actor)),
      }),
    }),
    route<ClientParams, unknown, unknown>({
      method: 'POST',
      url: '/clients/:client_id/enable',
      operationId: 'enableClient',
      summary: 'Enable a client (clavis admin clients enable)',
      tag: TAG,
      access: 'change',
      schema: { params: idParams, responses: { 200: { description: 'The client', schema: clientSchema } } },
      handler: async ({ params, caller }) => ({
        status: 200,
        body: clientView(await adminClients.enableClient(admin, params.client_id, caller.actor)),
      }),
    }),
    route<ClientParams, unknown, { grace_seconds?: number; secret_ttl_seconds?: number }>({
      method: 'POST',
      url: '/clients/:client_id/rotate-secret',
      operationId: 'rotateClientSecret',
      summary: 'A new secret, shown once; the previous ones expire after the grace (default 24 h)',
      tag: TAG,
      access: 'destructive',
      optionalBody: true,
      schema: {
        params: idParams,
        body: body({ grace_seconds: seconds, secret_ttl_seconds: seconds }),
        responses: { 200: { description: 'The new secret, once', schema: rotatedSecretSchema } },
      },
      handler: async ({ params, body: b, caller }) => {
        const result = await adminClients.rotateClientSecret(
          admin,
          params.client_id,
          {
            graceSeconds: b.grace_seconds ?? 86_400,
            ...(b.secret_ttl_seconds ? { secretTtlSeconds: b.secret_ttl_seconds } : {}),
          },
          caller.actor,
        );
        return { status: 200, body: rotatedSecretJson(result) };
      },
    }),
    route<ClientParams, { limit?: number; cursor?: string }, unknown>({
      method: 'GET',
      url: '/clients/:client_id/secrets',
      operationId: 'listClientSecrets',
      summary: "A client's secrets, never their values (clavis admin clients secrets list)",
      tag: TAG,
      access: 'read',
      schema: {
        params: idParams,
        querystring: { type: 'object', properties: pageQuerySchema, additionalProperties: false },
        responses: { 200: { description: 'The secrets', schema: list(clientSecretSchema) } },
      },
      handler: async ({ params, query }) => ({
        status: 200,
        body: pageOf(await adminClientSecrets.listSecrets(admin, params.client_id), query),
      }),
    }),
    route<ClientParams & { secret_id: string }, unknown, unknown>({
      method: 'DELETE',
      url: '/clients/:client_id/secrets/:secret_id',
      operationId: 'revokeClientSecret',
      summary: 'Revoke one secret of a client at once (clavis admin clients secrets revoke)',
      tag: TAG,
      access: 'destructive',
      schema: {
        params: object({
          client_id: { type: 'string', minLength: 1, maxLength: 128 },
          secret_id: { type: 'string', minLength: 1, maxLength: 128 },
        }),
        responses: { 200: { description: 'The revoked secret', schema: revokedSecretSchema } },
      },
      handler: async ({ params, caller }) => {
        const secret = await adminClientSecrets.revokeSecret(
          admin,
          params.client_id,
          params.secret_id,
          caller.actor,
        );
        return { status: 200, body: revokedSecretJson(params.client_id, secret) };
      },
    }),
  ];
}
