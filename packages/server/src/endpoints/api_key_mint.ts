/**
 * Per-job keys: `POST /oauth/api-keys` with `Authorization: Bearer <Clavis access token>` carrying
 * `keys:mint`. For the tool that accepts nothing but a static key: the workload (a CI job after token
 * exchange, a service after client credentials, a person via the device flow) mints a key for itself —
 * owner = the token's principal, scopes within the token's own (never `keys:mint`), a short life (at
 * most `apiKeyMintMaxTtlSeconds`, which is also the default), optionally one use. Audited with the
 * minting token's `jti`.
 *
 * Steps: bearer token (ours, for this server: its `aud` names the issuer; unexpired, not revoked,
 * principal still active) → `keys:mint` → the form (scope, ttl, max_uses, name, cidr) → the key rules →
 * insert with its audit record → 201. A token minted for a resource server is refused even when it
 * carries `keys:mint` (RFC 9068 §4): whoever received it there must not turn it into a key. A client
 * whose tokens default to a resource server's audience asks for `resource=<issuer>` (or `audience`).
 */
import {
  formatDuration,
  InvalidRequest,
  InvalidScope,
  KEYS_MINT_SCOPE,
  parseDuration,
  parseScope,
  TooManyRequests,
} from '@clavis/core';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { insertApiKey } from '../api_keys/api_key_store.js';
import {
  ApiKeyRuleError,
  newApiKey,
  type ResolvedOwner,
  resolveOwner,
  resolveOwnerById,
} from '../api_keys/issue_api_key.js';
import type { AuditLog } from '../audit/audit_log.js';
import { paths, type ServerConfig } from '../config.js';
import type { SecretHasher } from '../crypto/secrets.js';
import { type BearerGuard, insufficientScope, invalidToken } from '../http/bearer_guard.js';
import { endpointRequest } from '../http/endpoint.js';
import { hitRateLimit } from '../storage/rate_limits.js';
import type { Database } from '../storage/schema.js';
import type { AccessTokenClaims } from '../tokens/access_token.js';

export interface ApiKeyMintDeps {
  config: ServerConfig;
  db: Kysely<Database>;
  audit: AuditLog;
  hasher: SecretHasher;
  /** Clavis access tokens for this server, still good now, whose principal is still active. */
  bearer: BearerGuard<AccessTokenClaims>;
}

const MAX_USES_PATTERN = /^[1-9]\d{0,8}$/;

/** Keys one access token may mint: a stolen job token cannot fill the table with live keys. */
const MAX_KEYS_PER_TOKEN = 100;

/** `ttl` as seconds: `900` or a duration such as `15m`. */
function parseTtl(value: string | undefined, max: number): number {
  if (value === undefined) return max;
  let seconds: number;
  if (/^\d{1,9}$/.test(value)) seconds = Number(value);
  else {
    try {
      seconds = parseDuration(value);
    } catch {
      throw new InvalidRequest('ttl must be seconds or a duration such as 15m');
    }
  }
  if (seconds < 1) throw new InvalidRequest('ttl must be positive');
  if (seconds > max)
    throw new InvalidRequest(`ttl exceeds the maximum of ${formatDuration(max)} for a per-job key`);
  return seconds;
}

async function ownerOf(deps: ApiKeyMintDeps, claims: AccessTokenClaims): Promise<ResolvedOwner> {
  try {
    return claims.sub === claims.client_id
      ? await resolveOwner(deps.db, claims.client_id)
      : await resolveOwnerById(deps.db, 'user', claims.sub);
  } catch {
    throw invalidToken('the access token is invalid or expired');
  }
}

export function registerApiKeyMintEndpoint(app: FastifyInstance, deps: ApiKeyMintDeps): void {
  app.post(paths.apiKeys, async (request, reply) => {
    const { params, context } = endpointRequest(request);
    const { claims, scopes: tokenScopes } = await deps.bearer.require(request, KEYS_MINT_SCOPE);
    // A token from an API key never carries keys:mint; refuse one that claims to come from a key anyway.
    if (claims.api_key_id !== undefined) throw insufficientScope(KEYS_MINT_SCOPE);

    const available = tokenScopes.filter((s) => s !== KEYS_MINT_SCOPE);
    let scopes = available;
    if (params.scope !== undefined) {
      const asked = params.scope.length <= 2048 ? parseScope(params.scope) : null;
      if (asked === null) throw new InvalidScope('scope is malformed');
      const outside = asked.filter((s) => !available.includes(s));
      if (outside.length)
        throw new InvalidScope(`scope beyond the access token's: ${outside.slice(0, 5).join(' ')}`);
      scopes = asked;
    }
    if (scopes.length === 0) throw new InvalidScope('the access token has no scope a key could carry');
    const ttl = parseTtl(params.ttl, deps.config.apiKeyMintMaxTtlSeconds);
    if (params.max_uses !== undefined && !MAX_USES_PATTERN.test(params.max_uses))
      throw new InvalidRequest('max_uses must be a positive whole number');
    const cidrs = params.cidr === undefined ? undefined : params.cidr.split(' ');
    const owner = await ownerOf(deps, claims);

    const now = deps.config.clock();
    let made: ReturnType<typeof newApiKey>;
    try {
      made = newApiKey(
        deps.hasher,
        {
          owner,
          scopes,
          ttlSeconds: ttl,
          maxTtlSeconds: deps.config.apiKeyMintMaxTtlSeconds,
          name: params.name,
          cidrs,
          maxUses: params.max_uses === undefined ? undefined : Number(params.max_uses),
          createdBy: `${owner.type}:${owner.id}`,
          createdFrom: context.ip,
          mintedByJti: claims.jti,
        },
        now,
      );
    } catch (err) {
      if (err instanceof ApiKeyRuleError)
        throw err.code === 'invalid_scope' ? new InvalidScope(err.message) : new InvalidRequest(err.message);
      throw err;
    }
    const { row, plaintext } = made;
    // Counted per token (all instances share the counter); the window is the token's own life.
    const minted = await hitRateLimit(deps.db, `api_key_mint:${claims.jti}`, claims.iat * 1000);
    if (minted > MAX_KEYS_PER_TOKEN) {
      const left = claims.exp - Math.floor(deps.config.clock() / 1000);
      throw new TooManyRequests('this access token has minted all the keys it may', left);
    }
    await deps.audit.transact((tx) => insertApiKey(tx, row), {
      event: 'api_key.mint',
      actor: { type: owner.type, id: owner.id },
      clientId: claims.client_id,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      detail: {
        api_key_id: row.id,
        owner: owner.label,
        scopes: JSON.parse(row.scopes) as string[],
        expires_at: row.expires_at,
        max_uses: row.max_uses,
        cidrs: row.cidrs ? (JSON.parse(row.cidrs) as string[]) : null,
        minted_by_jti: claims.jti,
      },
    });
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .type('application/json; charset=utf-8')
      .send({
        id: row.id,
        key: plaintext,
        owner: owner.label,
        scopes: JSON.parse(row.scopes) as string[],
        expires_at: new Date(row.expires_at).toISOString(),
        max_uses: row.max_uses,
      });
  });
}
