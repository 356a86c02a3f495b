/**
 * Token introspection (RFC 7662). Only authenticated confidential clients may ask; a token is described
 * only to the client it was issued to or a resource server named in its `aud`. Everything else —
 * garbage, expired, revoked, someone else's — is `{"active":false}` and nothing more (§2.2).
 */
import { type AccessTokenIntrospection, API_KEY_PREFIX, type RefreshTokenIntrospection } from '@clavis/core';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { isApiKeyLive } from '../api_keys/api_key_store.js';
import { introspectApiKey } from '../api_keys/introspect_api_key.js';
import type { ApiKeyVerifier } from '../api_keys/verify_api_key.js';
import type { Client } from '../clients/client.js';
import { isClientActive } from '../clients/client_store.js';
import { paths, type ServerConfig } from '../config.js';
import type { SecretHasher } from '../crypto/secrets.js';
import { REFRESH_TOKEN_PREFIX } from '../grants/user_tokens.js';
import { requireParam } from '../http/form_body.js';
import { findRefreshToken } from '../refresh/refresh_store.js';
import { isAccessTokenRevoked } from '../storage/revocations.js';
import type { Database } from '../storage/schema.js';
import type { AccessTokenClaims } from '../tokens/access_token.js';
import type { AccessTokenVerifier } from '../tokens/token_verifier.js';
import { isAccountActive } from '../users/account_status.js';
import { type ClientAuthenticator, clientRequest } from './client_request.js';

export interface IntrospectionDeps {
  config: ServerConfig;
  tokens: AccessTokenVerifier;
  db: Kysely<Database>;
  /** Hashes a presented refresh token to look it up. */
  hasher: SecretHasher;
  // Introspection answers for API keys too (not a use of the key).
  apiKeys?: ApiKeyVerifier;
  authenticate: ClientAuthenticator;
}

const INACTIVE = '{"active":false}';

function mayInspect(caller: Client, claims: AccessTokenClaims): boolean {
  if (claims.client_id === caller.id) return true;
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  return aud.includes(caller.id);
}

export function registerIntrospectionEndpoint(app: FastifyInstance, deps: IntrospectionDeps): void {
  app.post(paths.introspection, async (request, reply) => {
    const { params, client } = await clientRequest(request, deps.authenticate, 'introspection', {
      credentialsRequired: 'introspection requires client authentication',
    });
    const token = requireParam(params, 'token');
    reply.header('cache-control', 'no-store').type('application/json; charset=utf-8');

    // Any authenticated confidential client may introspect an API key, as it may
    // verify one; `token_type_hint` (`api_key` or another) is only a hint.
    if (token.startsWith(API_KEY_PREFIX) && deps.apiKeys) {
      return reply.send(await introspectApiKey(deps.apiKeys, deps.config, token));
    }

    if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
      // A refresh token is described only to the client holding it.
      const nowMs = deps.config.clock();
      // Under any live hashing-key version; not re-keyed here (a read), but at its next refresh.
      const row =
        token.length <= 128
          ? (await deps.hasher.find(token, (hash) => findRefreshToken(deps.db, hash)))?.row
          : undefined;
      if (
        !row ||
        row.client_id !== client.id ||
        row.revoked_at !== null ||
        row.rotated_at !== null ||
        nowMs >= row.idle_expires_at ||
        nowMs >= row.family_expires_at ||
        !(await isAccountActive(deps.db, row.user_id))
      ) {
        return reply.send(INACTIVE);
      }
      const scopes = JSON.parse(row.scopes) as string[];
      const described: RefreshTokenIntrospection = {
        active: true,
        token_type: 'refresh_token',
        iss: deps.config.issuer,
        sub: row.user_id,
        client_id: row.client_id,
        ...(scopes.length ? { scope: scopes.join(' ') } : {}),
        exp: Math.floor(Math.min(row.idle_expires_at, row.family_expires_at) / 1000),
        iat: Math.floor(row.created_at / 1000),
      };
      return reply.send(described);
    }
    const now = Math.floor(deps.config.clock() / 1000);
    const claims = deps.tokens.verify(token, now);
    if (!claims || claims.exp <= now || !mayInspect(client, claims)) return reply.send(INACTIVE);
    if (await isAccessTokenRevoked(deps.db, claims.jti)) return reply.send(INACTIVE);
    // A token exchanged from an API key dies with the key: revoked, or its owner disabled.
    if (typeof claims.api_key_id === 'string' && !(await isApiKeyLive(deps.db, claims.api_key_id))) {
      return reply.send(INACTIVE);
    }
    // A token outlives nothing it was issued to: a deleted or disabled client's tokens are inactive.
    if (claims.client_id !== client.id && !(await isClientActive(deps.db, claims.client_id))) {
      return reply.send(INACTIVE);
    }
    const described: AccessTokenIntrospection = {
      active: true,
      token_type: claims.cnf ? 'DPoP' : 'Bearer',
      iss: claims.iss,
      sub: claims.sub,
      aud: claims.aud,
      client_id: claims.client_id,
      ...(claims.scope ? { scope: claims.scope } : {}),
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      ...(claims.act ? { act: claims.act } : {}),
      ...(claims.cnf ? { cnf: claims.cnf } : {}),
    };
    return reply.send(described);
  });
}
