/**
 * What an admin route is: its method and path, its JSON schemas (params, query, headers, body, each
 * response) — which Fastify validates with and the OpenAPI document is generated from — how it is
 * guarded (read, change, destructive change; idempotent create; `If-Match` update), and its handler.
 */
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { AdminCaller } from './authorization.js';
import { ifMatchSchema } from './etag.js';
import { idempotencyKeySchema } from './idempotency.js';

/** A JSON Schema object (the subset both Fastify's validation and OpenAPI 3.1 read alike). */
export type JsonSchema = Record<string, unknown>;

export interface ResponseSpec {
  description: string;
  /** Absent: no body (204). */
  schema?: JsonSchema;
  /** Default `application/json`. */
  contentType?: string;
  /** Response headers, named as sent (`ETag`, `Location`), with their description. */
  headers?: Record<string, string>;
}

export interface RouteSchema {
  params?: JsonSchema;
  querystring?: JsonSchema;
  body?: JsonSchema;
  /** Success responses by status. Problem responses are added to every route. */
  responses: Record<number, ResponseSpec>;
}

/** What a handler gets: the authorized caller and the request's validated parts. */
export interface AdminCall<
  P = Record<string, string>,
  Q = Record<string, unknown>,
  B = Record<string, unknown>,
> {
  request: FastifyRequest;
  caller: AdminCaller;
  params: P;
  query: Q;
  body: B;
}

/** What a handler answers with. */
export interface AdminResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A body sent as is (NDJSON), instead of JSON: text, or a stream of it. */
  raw?: { contentType: string; text: string | Readable };
}

export type Access = 'read' | 'change' | 'destructive';

export interface AdminRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Fastify's form, relative to `/admin/v1`: `/clients/:client_id`. */
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  /** `destructive`: a person must have signed in within the last 15 minutes. */
  access: Access;
  schema: RouteSchema;
  /** A create: takes `Idempotency-Key`. */
  idempotent?: boolean;
  /**
   * An update: needs `If-Match`. `current` reads the representation the tag is checked against; `id`
   * names the resource in it (a person is addressed by username or id: the lock is on the id).
   */
  ifMatch?: {
    // biome-ignore lint/suspicious/noExplicitAny: the route's own validated path parameters
    current: (params: any) => Promise<unknown>;
    id: string;
  };
  /** A read of one resource: its 200 carries an `ETag`. */
  etag?: boolean;
  /** The body may be left out (an action whose fields are all optional): taken as `{}`. */
  optionalBody?: boolean;
  // The parts of a call are validated by the route's schemas before the handler runs; their types are
  // the handler's to state, so the registry holds handlers of any call type.
  // biome-ignore lint/suspicious/noExplicitAny: see above
  handler: (call: AdminCall<any, any, any>) => Promise<AdminResult>;
}

/** A route, with its handler's call type checked where it is written. */
export function route<P, Q, B>(
  spec: Omit<AdminRoute, 'handler'> & { handler: (call: AdminCall<P, Q, B>) => Promise<AdminResult> },
): AdminRoute {
  return spec as AdminRoute;
}

/** The request headers a route's guards read, by their lower-case names, with their schemas. */
export function headerSchemas(route: Pick<AdminRoute, 'idempotent' | 'ifMatch'>): Record<string, JsonSchema> {
  return {
    ...(route.idempotent ? { 'idempotency-key': idempotencyKeySchema } : {}),
    ...(route.ifMatch ? { 'if-match': ifMatchSchema } : {}),
  };
}

/** `/clients/:client_id` → `/clients/{client_id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z_]+)/g, '{$1}');
}
