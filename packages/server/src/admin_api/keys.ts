/** `/keys`: what `clavis admin keys …` does, on the same use cases, answering with the same views. */
import * as adminApiKeys from '../admin/api_keys.js';
import { apiKeyJson, rotatedApiKeyJson } from '../admin/views.js';
import type { ResourceDeps } from './deps.js';
import { pageOf, pageQuerySchema } from './pagination.js';
import { Problem } from './problem.js';
import { type AdminRoute, route } from './route.js';
import {
  apiKeySchema,
  body,
  createdApiKeySchema,
  list,
  object,
  rotatedApiKeySchema,
  seconds,
  text,
  textList,
} from './schemas.js';

const TAG = 'keys';
const idParams = object({ id: { type: 'string', minLength: 1, maxLength: 128 } });
const count = { type: 'integer', minimum: 1, maximum: 1_000_000_000 };

interface KeyParams {
  id: string;
}

interface UpdateBody {
  cidrs?: string[];
  max_uses?: number;
  rate_limit?: number;
  expires_at?: string;
  ttl_seconds?: number;
  scopes?: string[];
}

const ISO_TIME = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,3})?)?(Z|[+-]\\d{2}:\\d{2})$';

export function keyRoutes(deps: ResourceDeps): AdminRoute[] {
  const keys: adminApiKeys.ApiKeyAdminDeps = { ...deps.admin, apiKeyMaxTtlSeconds: deps.apiKeyMaxTtlSeconds };
  const show = async (params: KeyParams) => adminApiKeys.showApiKey(keys, params.id);
  return [
    route<unknown, { limit?: number; cursor?: string; owner?: string; all?: boolean }, unknown>({
      method: 'GET',
      url: '/keys',
      operationId: 'listApiKeys',
      summary: 'List API keys (clavis admin keys list): live ones, or all',
      tag: TAG,
      access: 'read',
      schema: {
        querystring: {
          type: 'object',
          properties: {
            ...pageQuerySchema,
            owner: { type: 'string', maxLength: 200, description: 'A client id, or user:USERNAME' },
            all: { type: 'boolean', description: 'Also revoked, expired and used-up keys' },
          },
          additionalProperties: false,
        },
        responses: { 200: { description: 'The keys', schema: list(apiKeySchema) } },
      },
      handler: async ({ query }) => ({
        status: 200,
        body: pageOf(
          await adminApiKeys.listApiKeys(keys, {
            ...(query.owner !== undefined ? { owner: query.owner } : {}),
            all: query.all === true,
          }),
          query,
        ),
      }),
    }),
    route<
      unknown,
      unknown,
      {
        owner: string;
        scopes: string[];
        ttl_seconds: number;
        cidrs?: string[];
        max_uses?: number;
        name?: string;
        rate_limit?: number;
      }
    >({
      method: 'POST',
      url: '/keys',
      operationId: 'createApiKey',
      summary: 'Issue an API key (clavis admin keys create); the key is in the answer, once',
      tag: TAG,
      access: 'change',
      idempotent: true,
      schema: {
        body: body(
          {
            owner: text(200),
            scopes: textList(128),
            ttl_seconds: seconds,
            cidrs: textList(64),
            max_uses: count,
            name: text(100),
            rate_limit: count,
          },
          ['owner', 'scopes', 'ttl_seconds'],
        ),
        responses: {
          201: {
            description: 'The key, with its secret once',
            schema: createdApiKeySchema,
            headers: { Location: 'The new key' },
          },
        },
      },
      handler: async ({ body: b, caller }) => {
        const created = await adminApiKeys.createApiKey(
          keys,
          {
            owner: b.owner,
            scopes: b.scopes,
            ttlSeconds: b.ttl_seconds,
            ...(b.cidrs?.length ? { cidrs: b.cidrs } : {}),
            ...(b.max_uses !== undefined ? { maxUses: b.max_uses } : {}),
            ...(b.name !== undefined ? { name: b.name } : {}),
            ...(b.rate_limit !== undefined ? { rateLimit: b.rate_limit } : {}),
          },
          caller.actor,
        );
        return {
          status: 201,
          headers: { location: `/admin/v1/keys/${encodeURIComponent(created.key.id)}` },
          body: apiKeyJson(created.key, created.plaintext),
        };
      },
    }),
    route<KeyParams, unknown, unknown>({
      method: 'GET',
      url: '/keys/:id',
      operationId: 'showApiKey',
      summary: 'Show an API key, never its secret (clavis admin keys show)',
      tag: TAG,
      access: 'read',
      etag: true,
      schema: { params: idParams, responses: { 200: { description: 'The key', schema: apiKeySchema } } },
      handler: async ({ params }) => ({ status: 200, body: await show(params) }),
    }),
    route<KeyParams, unknown, UpdateBody>({
      method: 'PATCH',
      url: '/keys/:id',
      operationId: 'updateApiKey',
      summary: "Change a key's limits (clavis admin keys update): expiry only earlier, scopes only narrower",
      tag: TAG,
      access: 'change',
      ifMatch: { current: show, id: 'id' },
      schema: {
        params: idParams,
        body: body({
          cidrs: textList(64),
          max_uses: count,
          rate_limit: count,
          expires_at: { type: 'string', pattern: ISO_TIME, description: 'ISO-8601 with a zone' },
          ttl_seconds: seconds,
          scopes: textList(128),
        }),
        responses: { 200: { description: 'The key as changed', schema: apiKeySchema } },
      },
      handler: async ({ params, body: b, caller }) => {
        if (b.expires_at !== undefined && b.ttl_seconds !== undefined)
          throw new Problem('invalid-request', 'give expires_at or ttl_seconds, not both');
        const expiresAt =
          b.expires_at !== undefined
            ? Date.parse(b.expires_at)
            : b.ttl_seconds !== undefined
              ? deps.admin.clock() + b.ttl_seconds * 1000
              : undefined;
        const key = await adminApiKeys.updateApiKey(
          keys,
          params.id,
          {
            ...(b.cidrs !== undefined ? { cidrs: b.cidrs } : {}),
            ...(b.max_uses !== undefined ? { maxUses: b.max_uses } : {}),
            ...(b.rate_limit !== undefined ? { rateLimit: b.rate_limit } : {}),
            ...(expiresAt !== undefined ? { expiresAt } : {}),
            ...(b.scopes !== undefined ? { scopes: b.scopes } : {}),
          },
          caller.actor,
        );
        return { status: 200, body: key };
      },
    }),
    route<KeyParams, unknown, { grace_seconds?: number }>({
      method: 'POST',
      url: '/keys/:id/rotate',
      operationId: 'rotateApiKey',
      summary:
        'Issue a successor (shown once); the old key expires after the grace (clavis admin keys rotate)',
      tag: TAG,
      access: 'destructive',
      optionalBody: true,
      schema: {
        params: idParams,
        body: body({ grace_seconds: seconds }),
        responses: {
          200: {
            description: 'The successor with its secret once, and the old key',
            schema: rotatedApiKeySchema,
          },
        },
      },
      handler: async ({ params, body: b, caller }) => {
        const rotated = await adminApiKeys.rotateApiKey(
          keys,
          params.id,
          b.grace_seconds !== undefined ? { graceSeconds: b.grace_seconds } : {},
          caller.actor,
        );
        return { status: 200, body: rotatedApiKeyJson(rotated) };
      },
    }),
    route<KeyParams, unknown, unknown>({
      method: 'POST',
      url: '/keys/:id/revoke',
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key at once (clavis admin keys revoke)',
      tag: TAG,
      access: 'destructive',
      schema: { params: idParams, responses: { 200: { description: 'The key', schema: apiKeySchema } } },
      handler: async ({ params, caller }) => ({
        status: 200,
        body: await adminApiKeys.revokeApiKey(keys, params.id, caller.actor),
      }),
    }),
  ];
}
