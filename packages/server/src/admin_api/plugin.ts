/**
 * The admin HTTP API under `/admin/v1`: one Fastify plugin holding the resources' routes, with its own
 * JSON body parser (size-limited), validation (closed bodies, never coerced), problem-details error
 * handler, and the guards every route passes in order: authorize the caller (and record the call or
 * its refusal), rate-limit it, check `If-Match`, reserve the `Idempotency-Key`, run the handler.
 * `GET /admin/v1/openapi.json` serves the document generated from the same routes.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/audit_log.js';
import type { FailureLog } from '../audit/failure_log.js';
import { auditRoutes } from './audit.js';
import { AdminAuthorizer, type AdminCaller, type AuthorizerDeps } from './authorization.js';
import { clientRoutes } from './clients.js';
import type { ResourceDeps } from './deps.js';
import { checkIfMatch, etagOf, UpdateLocks } from './etag.js';
import { federationRoutes } from './federations.js';
import { IdempotencyStore, idempotencyKeyOf } from './idempotency.js';
import { idpRoutes } from './idps.js';
import { kekRoutes } from './kek.js';
import { keyRoutes } from './keys.js';
import { openApiDocument } from './openapi.js';
import { postureRoutes } from './posture.js';
import { Problem, toProblem } from './problem.js';
import { CallerRateLimit } from './rate_limit.js';
import { type AdminCall, type AdminResult, type AdminRoute, headerSchemas } from './route.js';
import { signingKeyRoutes } from './signing_keys.js';
import { userRoutes } from './users.js';

export const ADMIN_API_PREFIX = '/admin/v1';

/** The largest request body the admin API reads (an inline JWKS is the largest thing it takes). */
export const ADMIN_BODY_LIMIT_BYTES = 64 * 1024;

export interface AdminApiDeps extends ResourceDeps {
  bearer: AuthorizerDeps['bearer'];
  audit: AuditLog;
  failures: FailureLog;
  /** Seals stored idempotent responses: `kek.derive('idempotency-sealing')`. */
  sealKey: Buffer;
  /** The public URL of the API (`issuer` + `/admin/v1`), named in the OpenAPI document. */
  serverUrl: string;
  /** Calls per caller per minute (default ADMIN_CALLS_PER_MINUTE). */
  callsPerMinute?: number | undefined;
}

/** Every route of the API, built from its deps: what is registered and what is documented. */
export function adminRoutes(deps: ResourceDeps): AdminRoute[] {
  return [
    ...clientRoutes(deps),
    ...userRoutes(deps),
    ...keyRoutes(deps),
    ...federationRoutes(deps),
    ...auditRoutes(deps),
    ...signingKeyRoutes(deps),
    ...idpRoutes(deps),
    ...postureRoutes(deps),
    ...kekRoutes(deps),
  ];
}

/** The route's response schemas as Fastify takes them (bodies are serialized as they are, never trimmed). */
function responseSchemas(route: AdminRoute): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(route.schema.responses)) {
    if (spec.schema)
      out[status] = { content: { [spec.contentType ?? 'application/json']: { schema: spec.schema } } };
  }
  return out;
}

/** A JSON reviver refusing the keys that could reach an object's prototype when the body is copied. */
function refusePrototypeKeys(key: string, value: unknown): unknown {
  if (key === '__proto__' || key === 'constructor' || key === 'prototype')
    throw new Problem('invalid-request', `the body must not hold a "${key}" key`);
  return value;
}

function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  reply.code(problem.status);
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value);
  return reply
    .header('cache-control', 'no-store')
    .type('application/problem+json')
    .send(JSON.stringify(problem.body()));
}

/**
 * Sends a route's answer. A read's 200 carries the ETag of its body; an update's carries `etag`, the tag
 * of the resource as its read now answers it (which may show more than the update's answer: a person's
 * passkeys), so it can be sent back as the next If-Match.
 */
function send(reply: FastifyReply, route: AdminRoute, result: AdminResult, etag?: string): FastifyReply {
  reply.code(result.status).header('cache-control', 'no-store');
  for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
  if (result.raw) return reply.type(result.raw.contentType).send(result.raw.text);
  if (result.body === undefined) return reply.send();
  if (result.status === 200 && (etag !== undefined || route.etag))
    reply.header('etag', etag ?? etagOf(result.body));
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(result.body));
}

export function registerAdminApi(app: FastifyInstance, deps: AdminApiDeps): void {
  const routes = adminRoutes(deps);
  const document = openApiDocument(routes, deps.serverUrl);
  const authorizer = new AdminAuthorizer({
    bearer: deps.bearer,
    db: deps.admin.db,
    failures: deps.failures,
    clock: deps.admin.clock,
  });
  const rateLimit = new CallerRateLimit({
    db: deps.admin.db,
    clock: deps.admin.clock,
    failures: deps.failures,
    ...(deps.callsPerMinute !== undefined ? { perMinute: deps.callsPerMinute } : {}),
  });
  const idempotency = new IdempotencyStore({
    db: deps.admin.db,
    sealKey: deps.sealKey,
    clock: deps.admin.clock,
  });
  const updateLocks = new UpdateLocks({ db: deps.admin.db, clock: deps.admin.clock });
  const callers = new WeakMap<FastifyRequest, AdminCaller>();

  // Bodies: closed and never coerced. Path and query: strings coerced to their declared types.
  const bodies = new Ajv2020({
    allErrors: false,
    coerceTypes: false,
    useDefaults: false,
    removeAdditional: false,
    strict: false,
  });
  const queries = new Ajv2020({
    allErrors: false,
    coerceTypes: true,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });

  app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(
        'application/json',
        { parseAs: 'string', bodyLimit: ADMIN_BODY_LIMIT_BYTES },
        (_request, text, done) => {
          if (text === '') return done(null, undefined);
          let parsed: unknown;
          try {
            parsed = JSON.parse(text as string, refusePrototypeKeys);
          } catch (err) {
            return done(
              err instanceof Problem ? err : new SyntaxError('the body is not valid JSON'),
              undefined,
            );
          }
          done(null, parsed);
        },
      );
      // Responses are sent as the handlers built them: their schemas document them and the tests check them.
      scope.setSerializerCompiler(() => (data) => JSON.stringify(data));
      scope.setValidatorCompiler(({ schema, httpPart }) =>
        (httpPart === 'body' ? bodies : queries).compile(schema),
      );
      scope.setSchemaErrorFormatter((errors, dataVar) => {
        const first = errors[0];
        const where = `${dataVar}${first?.instancePath ?? ''}`;
        const extra =
          first?.params && 'additionalProperty' in first.params
            ? ` (${String(first.params.additionalProperty)})`
            : '';
        return new Error(`${where} ${first?.message ?? 'is invalid'}${extra}`);
      });
      scope.setErrorHandler((err, request, reply) => {
        const { problem, unexpected } = toProblem(err);
        if (unexpected) request.log.error({ err, reqId: request.id }, 'unexpected error');
        else if (problem.slug === 'unavailable')
          request.log.warn({ err: (err as Error)?.message, reqId: request.id }, 'storage unavailable');
        return sendProblem(reply, problem);
      });
      scope.setNotFoundHandler((_request, reply) => {
        sendProblem(reply, new Problem('not-found', 'no such admin API route'));
      });

      scope.get('/openapi.json', async (_request, reply) =>
        reply
          .header('cache-control', 'no-cache')
          .type('application/json; charset=utf-8')
          .send(JSON.stringify(document)),
      );

      for (const r of routes) {
        scope.route({
          method: r.method,
          url: r.url,
          bodyLimit: ADMIN_BODY_LIMIT_BYTES,
          schema: {
            ...(r.idempotent || r.ifMatch
              ? { headers: { type: 'object', properties: headerSchemas(r) } }
              : {}),
            response: responseSchemas(r),
            ...(r.schema.params ? { params: r.schema.params } : {}),
            ...(r.schema.querystring ? { querystring: r.schema.querystring } : {}),
            ...(r.schema.body ? { body: r.schema.body } : {}),
          },
          onRequest: async (request) => {
            const caller = await authorizer.authorize(request, {
              destructive: r.access === 'destructive',
              operation: r.operationId,
            });
            await rateLimit.take(caller, r.operationId);
            await deps.audit.record({
              event: 'admin_api.call',
              outcome: 'success',
              actor: { type: caller.actor.type, id: caller.actor.id },
              clientId: caller.clientId,
              ip: caller.actor.ip ?? null,
              userAgent: caller.actor.userAgent ?? null,
              detail: { operation: r.operationId, method: r.method, jti: caller.jti },
            });
            callers.set(request, caller);
          },
          preValidation: async (request) => {
            if (r.optionalBody && request.body === undefined) request.body = {};
          },
          handler: async (request, reply) => {
            const caller = callers.get(request);
            if (!caller) throw new Error('admin route reached without a caller');
            const call: AdminCall = {
              request,
              caller,
              params: request.params as Record<string, string>,
              query: (request.query ?? {}) as Record<string, unknown>,
              body: (request.body ?? {}) as Record<string, unknown>,
            };
            if (r.ifMatch) {
              const { current, id } = r.ifMatch;
              const before = (await current(call.params)) as Record<string, unknown>;
              const resource = `${r.url}#${String(before[id])}`;
              return updateLocks.holding(resource, async () => {
                checkIfMatch(request.headers['if-match'], await current(call.params));
                const result = await r.handler(call);
                const etag = result.status === 200 ? etagOf(await current(call.params)) : undefined;
                return send(reply, r, result, etag);
              });
            }
            const key = r.idempotent ? idempotencyKeyOf(request.headers['idempotency-key']) : undefined;
            if (key === undefined) return send(reply, r, await r.handler(call));
            const reservation = await idempotency.reserve(
              caller.key,
              key,
              idempotency.requestHash(r.method, request.url.split('?')[0] ?? '', request.body),
            );
            if (reservation.kind === 'replay') {
              const { response } = reservation;
              return send(reply, r, {
                status: response.status,
                headers: { ...response.headers, 'idempotent-replayed': 'true' },
                body: response.body,
              });
            }
            let result: AdminResult;
            try {
              result = await r.handler(call);
            } catch (err) {
              await idempotency.release(caller.key, key);
              throw err;
            }
            await idempotency.complete(caller.key, key, {
              status: result.status,
              headers: result.headers ?? {},
              body: result.body,
            });
            return send(reply, r, result);
          },
        });
      }
    },
    { prefix: ADMIN_API_PREFIX },
  );
}
