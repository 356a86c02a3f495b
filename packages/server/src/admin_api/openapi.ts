/**
 * The OpenAPI 3.1 document of the admin API, generated from the very route objects the plugin registers
 * with Fastify (their schemas are what requests are validated with), so the document and the validation
 * cannot differ. JSON Schema 2020-12 is OpenAPI 3.1's dialect; the route schemas keep to the part of it
 * Fastify's validator reads alike.
 */

import { type ProblemSlug, problemTypes } from './problem.js';
import { type AdminRoute, type JsonSchema, openApiPath } from './route.js';
import { problemSchema } from './schemas.js';

export const ADMIN_API_VERSION = '1.0.0';

function problemResponse(slug: ProblemSlug | 'various', description: string) {
  return {
    description: slug === 'various' ? description : `${description} (\`${slug}\`)`,
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  };
}

/** The problem responses every route may give, and those its guards add. */
function problemResponses(route: AdminRoute): Record<string, unknown> {
  const out: Record<string, unknown> = {
    '400': problemResponse('invalid-request', 'The request is malformed or refused as invalid'),
    '401': problemResponse('unauthorized', 'No valid access token of this server'),
    '403': problemResponse(
      'various',
      route.access === 'destructive'
        ? 'Not an administrator, no `admin` scope (`forbidden`), or a sign-in older than 15 minutes (`reauthentication-required`)'
        : 'Not an administrator, or no `admin` scope (`forbidden`)',
    ),
    '404': problemResponse('not-found', 'No such resource'),
    '429': problemResponse('rate-limited', 'Too many requests; see Retry-After'),
    '500': problemResponse('internal-error', 'Unexpected error'),
    '503': problemResponse('unavailable', 'Storage busy or unavailable; see Retry-After'),
  };
  if (route.method !== 'GET')
    out['409'] = problemResponse('conflict', 'The change conflicts with the current state');
  if (route.schema.body) {
    out['413'] = problemResponse('payload-too-large', 'The body is too large');
    out['415'] = problemResponse('unsupported-media-type', 'The body is not application/json');
  }
  if (route.ifMatch) {
    out['412'] = problemResponse('precondition-failed', 'If-Match does not name the current version');
    out['428'] = problemResponse('precondition-required', 'If-Match is missing');
  }
  if (route.idempotent)
    out['422'] = problemResponse(
      'idempotency-key-reused',
      'The Idempotency-Key was used for another request',
    );
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
  const out: unknown[] = [];
  if (route.idempotent)
    out.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        'The same key and body within 24 hours replay the first response (to the same caller); another body is 422',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
  if (route.ifMatch)
    out.push({
      name: 'If-Match',
      in: 'header',
      required: true,
      description: 'The ETag of the resource as last read',
      schema: { type: 'string', maxLength: 1024 },
    });
  return out;
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
        ? { content: { [spec.contentType ?? 'application/json']: { schema: spec.schema } } }
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
      schemas: { Problem: problemSchema },
    },
    paths,
  };
}
