/**
 * The OpenID Connect UserInfo endpoint (OIDC Core §5.3): `GET` or `POST` with a person's access token
 * (RFC 6750: `Authorization: Bearer`, or on POST the form field `access_token`, never both) carrying
 * `openid`; answers `sub` and, with `profile`, `preferred_username`.
 *
 * Steps: the bearer token (exactly one, well-formed) → ours, for this server, unexpired, not revoked →
 * `openid` in its scope → a person's sign-in token (not a service's, not one exchanged from an API key),
 * from a client still active → the person still active → the claims. Errors are RFC 6750 §3:
 * `WWW-Authenticate: Bearer` with `error="invalid_request"` (400), `"invalid_token"` (401) or
 * `"insufficient_scope"` (403); a request with no token at all gets the challenge without an error code.
 */
import {
  InsufficientScope,
  InvalidRequest,
  InvalidToken,
  OPENID_SCOPE,
  PROFILE_SCOPE,
  parseScope,
  type UserinfoResponse,
} from '@clavis/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { isClientActive } from '../clients/client_store.js';
import { paths, type ServerConfig } from '../config.js';
import type { FormParams } from '../http/form_body.js';
import { isAccessTokenRevoked } from '../storage/revocations.js';
import type { Database } from '../storage/schema.js';
import type { AccessTokenClaims } from '../tokens/access_token.js';
import type { AccessTokenVerifier } from '../tokens/token_verifier.js';
import { findActiveUsername } from '../users/user_store.js';

export interface UserinfoEndpointDeps {
  config: Pick<ServerConfig, 'issuer' | 'clock'>;
  db: Kysely<Database>;
  tokens: AccessTokenVerifier;
}

/** Longer than any access token this server signs; anything longer is not one of ours. */
const MAX_TOKEN_LENGTH = 8192;

/** RFC 6750 §2.1 `b64token`. */
const BEARER_HEADER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

const CHALLENGE = 'Bearer realm="clavis"';

/** `invalid_request` with 405 and `Allow: GET, POST` for any other method. */
class MethodNotAllowed extends InvalidRequest {
  override readonly status: number = 405;
  constructor() {
    super('this endpoint accepts only GET and POST');
    this.headers.allow = 'GET, POST';
  }
}

/** RFC 6750 §3.1 `invalid_request` (400), with its challenge. */
function malformed(description: string): InvalidRequest {
  const err = new InvalidRequest(description);
  err.headers['www-authenticate'] = `${CHALLENGE}, error="invalid_request"`;
  return err;
}

/** RFC 6750 §3.1 `invalid_token` (401); without an error code when no token was sent at all (§3). */
function invalidToken(description: string, presented = true): InvalidToken {
  const err = new InvalidToken(description);
  err.headers['www-authenticate'] = presented ? `${CHALLENGE}, error="invalid_token"` : CHALLENGE;
  return err;
}

function insufficientScope(): InsufficientScope {
  const err = new InsufficientScope(`the access token does not carry ${OPENID_SCOPE}`);
  err.headers['www-authenticate'] = `${CHALLENGE}, error="insufficient_scope", scope="${OPENID_SCOPE}"`;
  return err;
}

const INVALID = 'the access token is invalid or expired';

/** The one access token the request carries (RFC 6750 §2: exactly one method). */
function presentedToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const form = request.method === 'POST' ? ((request.body ?? {}) as FormParams).access_token : undefined;
  if (header !== undefined && form !== undefined)
    throw malformed('send the access token one way only: the Authorization header or the form body');
  if (header === undefined && form === undefined)
    throw invalidToken('a Bearer access token is required', false);
  let token: string | undefined;
  if (header !== undefined) {
    if (header.length > MAX_TOKEN_LENGTH + 16) throw invalidToken(INVALID);
    const match = BEARER_HEADER.exec(header);
    if (!match) {
      // Another scheme is no bearer token at all; a Bearer header that does not parse is malformed.
      if (/^Bearer(\s|$)/i.test(header)) throw malformed('the Authorization header is malformed');
      throw invalidToken('a Bearer access token is required', false);
    }
    token = match[1];
  } else {
    token = form;
  }
  if (!token || token.length > MAX_TOKEN_LENGTH) throw invalidToken(INVALID);
  return token;
}

/** An access token we signed for this server, still good now and not revoked. */
async function verifiedToken(deps: UserinfoEndpointDeps, token: string): Promise<AccessTokenClaims> {
  const now = Math.floor(deps.config.clock() / 1000);
  const claims = deps.tokens.verify(token, now);
  if (!claims || claims.exp <= now) throw invalidToken(INVALID);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(deps.config.issuer)) throw invalidToken('the access token is not for this server');
  if (await isAccessTokenRevoked(deps.db, claims.jti)) throw invalidToken(INVALID);
  return claims;
}

export function registerUserinfoEndpoint(app: FastifyInstance, deps: UserinfoEndpointDeps): void {
  const handler = async (request: FastifyRequest) => {
    const claims = await verifiedToken(deps, presentedToken(request));
    const scopes = parseScope(claims.scope ?? '') ?? [];
    if (!scopes.includes(OPENID_SCOPE)) throw insufficientScope();
    // A service's token (its `sub` is its own client id) or one exchanged from an API key is not a
    // person signing in: there is no one for userinfo to describe.
    if (claims.sub === claims.client_id || claims.api_key_id !== undefined || claims.act !== undefined)
      throw invalidToken('the access token does not belong to a person');
    if (!(await isClientActive(deps.db, claims.client_id))) throw invalidToken(INVALID);
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
