/**
 * Token revocation (RFC 7009). The client authenticates first; a token it was not issued is refused
 * (400 `invalid_request` for a confidential client; a public client gets the same 200 as for an
 * unknown token, so the endpoint tells an unauthenticated caller nothing). Unknown, malformed and
 * already-expired tokens answer 200 (§2.2). A revoked JWT's `jti` is remembered until it would have
 * expired; the revocation and its audit record commit together.
 */
import { InvalidRequest } from '@clavis/core';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import { paths, type ServerConfig } from '../config.js';
import type { SecretHasher } from '../crypto/secrets.js';
import { REFRESH_TOKEN_PREFIX } from '../grants/user_tokens.js';
import { requireParam } from '../http/form_body.js';
import { findRefreshToken, revokeFamily } from '../refresh/refresh_store.js';
import { revokeJti } from '../storage/revocations.js';
import type { Database } from '../storage/schema.js';
import type { AccessTokenVerifier } from '../tokens/token_verifier.js';
import { type ClientAuthenticator, clientRequest } from './client_request.js';

export interface RevocationDeps {
  config: ServerConfig;
  tokens: AccessTokenVerifier;
  db: Kysely<Database>;
  audit: AuditLog;
  /** Hashes a presented refresh token to look it up. */
  hasher: SecretHasher;
  authenticate: ClientAuthenticator;
}

export function registerRevocationEndpoint(app: FastifyInstance, deps: RevocationDeps): void {
  app.post(paths.revocation, async (request, reply) => {
    const { params, context, client } = await clientRequest(request, deps.authenticate, 'revocation');
    const token = requireParam(params, 'token');
    // token_type_hint is only a hint (§2.1): every kind of token we issue is looked up regardless.
    reply.header('cache-control', 'no-store');

    const now = deps.config.clock();
    if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
      // A refresh token ends its whole family, and the access tokens the family produced (RFC 7009 §2.1).
      // Under any live hashing-key version (the family ends, so nothing is re-keyed).
      const row =
        token.length <= 128
          ? (await deps.hasher.find(token, (hash) => findRefreshToken(deps.db, hash)))?.row
          : undefined;
      if (!row) return reply.code(200).send();
      if (row.client_id !== client.id) {
        if (client.kind === 'public') return reply.code(200).send();
        throw new InvalidRequest('the token was not issued to this client');
      }
      await deps.audit.transact(
        (tx) => revokeFamily(tx, row.family_id, 'revoked_by_client', now),
        (revoked) => ({
          event: 'token.revoke',
          actor: { type: 'client', id: client.id },
          clientId: client.id,
          ip: context.ip,
          userAgent: context.userAgent,
          requestId: context.requestId,
          detail: {
            family: row.family_id,
            sub: row.user_id,
            token_type: 'refresh_token',
            already_revoked: !revoked,
          },
        }),
      );
      return reply.code(200).send();
    }
    const claims = deps.tokens.verify(token, Math.floor(now / 1000));
    if (!claims || claims.exp * 1000 <= now) return reply.code(200).send();
    if (claims.client_id !== client.id) {
      if (client.kind === 'public') return reply.code(200).send();
      throw new InvalidRequest('the token was not issued to this client');
    }
    await deps.audit.transact(
      (tx) =>
        revokeJti(tx, { jti: claims.jti, clientId: client.id, revokedAt: now, expiresAt: claims.exp * 1000 }),
      (revoked) => ({
        event: 'token.revoke',
        actor: { type: 'client', id: client.id },
        clientId: client.id,
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        detail: { jti: claims.jti, sub: claims.sub, token_type: 'access_token', already_revoked: !revoked },
      }),
    );
    return reply.code(200).send();
  });
}
