/**
 * The OpenID Connect UserInfo endpoint (OIDC Core §5.3): `GET` or `POST` with a person's access token
 * (RFC 6750: `Authorization: Bearer`, or on POST the form field `access_token`, never both) carrying
 * `openid`; answers `sub` and, with `profile`, `preferred_username`.
 *
 * Steps (the bearer guard does the first three): the bearer token (exactly one, well-formed) → ours, for
 * this server, unexpired, not revoked, its client and person still active → `openid` in its scope → a
 * person's sign-in token (not a service's, not one exchanged from an API key) → the claims. Errors are RFC 6750 §3:
 * `WWW-Authenticate: Bearer` with `error="invalid_request"` (400), `"invalid_token"` (401) or
 * `"insufficient_scope"` (403); a request with no token at all gets the challenge without an error code.
 */
import { InvalidRequest, OPENID_SCOPE, PROFILE_SCOPE, type UserinfoResponse } from '@clavis/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { paths } from '../config.js';
import { type BearerGuard, invalidToken } from '../http/bearer_guard.js';
import type { Database } from '../storage/schema.js';
import type { AccessTokenClaims } from '../tokens/access_token.js';
import { findActiveUsername } from '../users/user_store.js';

export interface UserinfoEndpointDeps {
  db: Kysely<Database>;
  /** Our own live access tokens: signed by us for this server, unexpired, unrevoked, principal active. */
  bearer: BearerGuard<AccessTokenClaims>;
}

/** `invalid_request` with 405 and `Allow: GET, POST` for any other method. */
class MethodNotAllowed extends InvalidRequest {
  override readonly status: number = 405;
  constructor() {
    super('this endpoint accepts only GET and POST');
    this.headers.allow = 'GET, POST';
  }
}

const INVALID = 'the access token is invalid or expired';

export function registerUserinfoEndpoint(app: FastifyInstance, deps: UserinfoEndpointDeps): void {
  const handler = async (request: FastifyRequest) => {
    const { claims, scopes } = await deps.bearer.require(request, OPENID_SCOPE, { formBody: true });
    // A service's token (its `sub` is its own client id) or one exchanged from an API key is not a
    // person signing in: there is no one for userinfo to describe.
    if (claims.sub === claims.client_id || claims.api_key_id !== undefined || claims.act !== undefined)
      throw invalidToken('the access token does not belong to a person');
    const username = await findActiveUsername(deps.db, claims.sub);
    if (username === undefined) throw invalidToken(INVALID);
    const body: UserinfoResponse = {
      sub: claims.sub,
      ...(scopes.includes(PROFILE_SCOPE) ? { preferred_username: username } : {}),
    };
    return body;
  };
  app.route({
    method: ['GET', 'POST'],
    url: paths.userinfo,
    handler: async (request, reply) => {
      const body = await handler(request);
      return reply
        .header('cache-control', 'no-store')
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(body));
    },
  });
  app.route({
    method: ['PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: paths.userinfo,
    handler: async () => {
      throw new MethodNotAllowed();
    },
  });
}
