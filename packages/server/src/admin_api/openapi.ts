/**
 * The OpenAPI 3.1 document of the admin API, generated from the very route objects the plugin registers
 * with Fastify (their schemas are what requests are validated with), so the document and the validation
 * cannot differ. JSON Schema 2020-12 is OpenAPI 3.1's dialect; the route schemas keep to the part of it
 * Fastify's validator reads alike.
 */

import { type ProblemSlug, problemTypes } from './problem.js';
import { type AdminRoute, headerSchemas, type JsonSchema, openApiPath } from './route.js';
import { namedSchemas } from './schemas.js';

export const ADMIN_API_VERSION = '1.0.0';

const componentOf = new Map(Object.entries(namedSchemas).map(([name, schema]) => [schema as unknown, name]));

/** `schema` with every named representation in it replaced by a reference to its component. */
function referencing(schema: unknown): unknown {
  const name = componentOf.get(schema);
  if (name) return { $ref: `#/components/schemas/${name}` };
  if (Array.isArray(schema)) return schema.map(referencing);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, referencing(v)]));
}

/** A component's own schema, its nested named representations referenced. */
function referencingWithin(schema: unknown): unknown {
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, referencing(v)]));
}

function problemResponse(slug: ProblemSlug | 'various', description: string) {
  return {
    description: slug === 'various' ? description : `${description} (\`${slug}\`)`,
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  };
}

/** The problem responses, once each, as components the operations refer to. */
const problemComponents = {
  InvalidRequest: problemResponse('invalid-request', 'The request is malformed or refused as invalid'),
  Unauthorized: problemResponse('unauthorized', 'No valid access token of this server'),
  Forbidden: problemResponse('various', 'Not an administrator, or no `admin` scope (`forbidden`)'),
  ForbiddenOrStale: problemResponse(
    'various',
    'Not an administrator, no `admin` scope (`forbidden`), or a sign-in older than 15 minutes (`reauthentication-required`)',
  ),
  NotFound: problemResponse('not-found', 'No such resource'),
  Conflict: problemResponse('conflict', 'The change conflicts with the current state'),
  PreconditionFailed: problemResponse('precondition-failed', 'If-Match does not name the current version'),
  PayloadTooLarge: problemResponse('payload-too-large', 'The body is too large'),
  UnsupportedMediaType: problemResponse('unsupported-media-type', 'The body is not application/json'),
  IdempotencyKeyReused: problemResponse(
    'idempotency-key-reused',
    'The Idempotency-Key was used for another request',
  ),
  PreconditionRequired: problemResponse('precondition-required', 'If-Match is missing'),
  RateLimited: problemResponse('rate-limited', 'Too many requests; see Retry-After'),
  InternalError: problemResponse('internal-error', 'Unexpected error'),
  Unavailable: problemResponse('unavailable', 'Storage busy or unavailable; see Retry-After'),
};

const ref = (name: keyof typeof problemComponents) => ({ $ref: `#/components/responses/${name}` });

/** The problem responses every route may give, and those its guards add. */
function problemResponses(route: AdminRoute): Record<string, unknown> {
  const out: Record<string, unknown> = {
    '400': ref('InvalidRequest'),
    '401': ref('Unauthorized'),
    '403': ref(route.access === 'destructive' ? 'ForbiddenOrStale' : 'Forbidden'),
    '404': ref('NotFound'),
    '429': ref('RateLimited'),
    '500': ref('InternalError'),
    '503': ref('Unavailable'),
  };
  if (route.method !== 'GET') out['409'] = ref('Conflict');
  if (route.schema.body) {
    out['413'] = ref('PayloadTooLarge');
    out['415'] = ref('UnsupportedMediaType');
  }
  if (route.ifMatch) {
    out['412'] = ref('PreconditionFailed');
    out['428'] = ref('PreconditionRequired');
  }
  if (route.idempotent) out['422'] = ref('IdempotencyKeyReused');
  return out;
}

/** The parameters of a route's params/querystring schema. */
function parameters(where: 'path' | 'query' | 'header', schema: JsonSchema | undefined): unknown[] {
  if (!schema) return [];
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, s]) => {
    const { description, ...rest } = s as { description?: string };
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

/** The headers of a route that its guards read. */
function headerParameters(route: AdminRoute): unknown[] {
  const names: Record<string, string> = { 'idempotency-key': 'Idempotency-Key', 'if-match': 'If-Match' };
  return Object.entries(headerSchemas(route)).map(([name, s]) => {
    const { description, ...schema } = s as { description?: string };
    return {
      name: names[name] ?? name,
      in: 'header',
      required: name === 'if-match',
      ...(description ? { description } : {}),
      schema,
    };
  });
}

function operation(route: AdminRoute): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(route.schema.responses)) {
    const headers: Record<string, unknown> = {};
    for (const [name, description] of Object.entries(spec.headers ?? {}))
      headers[name] = { description, schema: { type: 'string' } };
    if (route.etag || route.ifMatch)
      headers.ETag ??= { description: 'The version of the resource', schema: { type: 'string' } };
    responses[status] = {
      description: spec.description,
      ...(Object.keys(headers).length ? { headers } : {}),
      ...(spec.schema
        ? { content: { [spec.contentType ?? 'application/json']: { schema: referencing(spec.schema) } } }
        : {}),
    };
  }
  Object.assign(responses, problemResponses(route));
  const params = [
    ...parameters('path', route.schema.params),
    ...parameters('query', route.schema.querystring),
    ...headerParameters(route),
  ];
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(route.access === 'destructive'
      ? {
          description:
            'Destructive: a person must have signed in (with a second factor) within the last 15 minutes.',
        }
      : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(route.schema.body
      ? {
          requestBody: {
            required: !route.optionalBody,
            content: { 'application/json': { schema: route.schema.body } },
          },
        }
      : {}),
    responses,
  };
}

/** The document for `routes`, served under `serverUrl` (`https://issuer/admin/v1`). */
export function openApiDocument(routes: readonly AdminRoute[], serverUrl: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = openApiPath(route.url);
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = operation(route);
  }
  paths['/openapi.json'] = {
    get: {
      operationId: 'getOpenApiDocument',
      summary: 'This document',
      tags: ['meta'],
      security: [],
      responses: {
        '200': {
          description: 'The OpenAPI 3.1 document',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Clavis admin API',
      version: ADMIN_API_VERSION,
      description: `Administration of a Clavis server: what \`clavis admin\` does, over HTTP. Errors are RFC 9457 problem details whose \`type\` is one of ${Object.keys(
        problemTypes,
      )
        .map((s) => `\`urn:clavis:problem:${s}\``)
        .join(', ')}.`,
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'An access token of this server carrying the `admin` scope: an administrator signed in with a second factor (`clavis login --scope admin`), or a client granted `admin`',
        },
      },
      // Components refer to each other too (a rotated key holds its predecessor).
      responses: problemComponents,
      schemas: Object.fromEntries(
        Object.entries(namedSchemas).map(([name, schema]) => [name, referencingWithin(schema)]),
      ),
    },
    paths,
  };
}
