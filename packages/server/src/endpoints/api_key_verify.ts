/**
 * Direct verification of API keys for resource servers: `POST /oauth/api-keys/verify` with `key`, the
 * resource server's caller address `ip`, and optionally the `scope` the API call needs. The resource
 * server authenticates as a confidential client (any), as for introspection.
 *
 * 200 describes the key (owner, scopes, expiry, remaining uses); every unusable key is the same 401
 * `invalid_token` (AK-03: unknown, wrong, revoked, expired, exhausted cannot be told apart); an address
 * outside the allow-list — or none given for a key that has one — is 403 `access_denied` (AK-01); a
 * scope not covered is 403 `insufficient_scope` (AK-04); over the key's rate limit 429. A successful
 * verification is a use of the key, committed with its `api_key.use` record. Every refusal is an audit
 * record with its reason.
 */
import {
  AddressNotAllowed,
  type ApiKeyVerificationResponse,
  InsufficientScope,
  InvalidRequest,
  InvalidToken,
  type OAuthError,
  parseScope,
  TooManyRequests,
} from '@clavis/core';
import type { FastifyInstance } from 'fastify';
import { normaliseAddress } from '../api_keys/allow_list.js';
import { keyDenial } from '../api_keys/key_denial.js';
import { ownerLabel } from '../api_keys/owner.js';
import {
  type ApiKeyRejection,
  type ApiKeyVerifier,
  INVALID_KEY_REASONS,
  type Inspection,
} from '../api_keys/verify_api_key.js';
import type { FailureLog } from '../audit/failure_log.js';
import { refuseWith } from '../audit/refuse.js';
import { paths } from '../config.js';
import { requireParam } from '../http/form_body.js';
import { type ClientAuthenticator, clientRequest } from './client_request.js';

export interface ApiKeyVerifyDeps {
  apiKeys: ApiKeyVerifier;
  /** Refusals are recorded, aggregated; the caller authenticated, so they are not charged. */
  failures: FailureLog;
  authenticate: ClientAuthenticator;
}

/** The one body for every unusable key. */
const INVALID_API_KEY_DESCRIPTION = 'the API key is not valid';

const MAX_KEY_PARAM = 128;

function refusal(reason: ApiKeyRejection, retryAfterSeconds: number): OAuthError {
  if (INVALID_KEY_REASONS.has(reason)) return new InvalidToken(INVALID_API_KEY_DESCRIPTION);
  if (reason === 'address_not_allowed' || reason === 'address_missing')
    return new AddressNotAllowed('the API key may not be used from this address');
  if (reason === 'insufficient_scope')
    return new InsufficientScope('the API key does not carry the scope this call needs');
  return new TooManyRequests('the API key is over its rate limit', retryAfterSeconds);
}

export function registerApiKeyVerifyEndpoint(app: FastifyInstance, deps: ApiKeyVerifyDeps): void {
  app.post(paths.apiKeyVerification, async (request, reply) => {
    const { params, context, client } = await clientRequest(request, deps.authenticate, 'api_key_verify', {
      credentialsRequired: 'key verification requires client authentication',
    });
    const presented = requireParam(params, 'key');
    const ip = params.ip ?? null;
    if (ip !== null && normaliseAddress(ip) === null) throw new InvalidRequest('ip is not an IP address');
    let needed: string[] = [];
    if (params.scope !== undefined) {
      const parsed = params.scope.length <= 2048 ? parseScope(params.scope) : null;
      if (parsed === null) throw new InvalidRequest('scope is malformed');
      needed = parsed;
    }

    // The caller authenticated: a refusal is recorded (aggregated), not charged to its address.
    const deny = (reason: ApiKeyRejection, keyId?: string, retryAfter = 60): Promise<never> =>
      refuseWith(
        deps.failures,
        keyDenial({ reason, keyId, via: 'verify', context, callerClientId: client.id }),
        refusal(reason, retryAfter),
        { charge: false },
      );

    const inspected: Inspection =
      presented.length <= MAX_KEY_PARAM
        ? await deps.apiKeys.inspect(presented, ip)
        : { ok: false, reason: 'malformed' };
    if (!inspected.ok) return deny(inspected.reason, inspected.key?.id);
    const { key, owner, scopes } = inspected;
    if (needed.some((s) => !scopes.includes(s))) return deny('insufficient_scope', key.id);
    const limited = await deps.apiKeys.checkRateLimit(key);
    if (!limited.ok) return deny(limited.reason, key.id, limited.retryAfterSeconds);
    const used = await deps.apiKeys.use(key, ip, (remainingUses) => ({
      event: 'api_key.use',
      actor: { type: owner.type, id: owner.id },
      clientId: client.id,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      detail: { api_key_id: key.id, via: 'verify', caller_ip: ip, remaining_uses: remainingUses },
    }));
    if (!used.ok) return deny(used.reason, key.id);

    const described: ApiKeyVerificationResponse = {
      active: true,
      key_id: key.id,
      name: key.name,
      owner: ownerLabel(owner),
      owner_type: owner.type,
      sub: owner.id,
      ...(owner.type === 'client' ? { client_id: owner.id } : {}),
      scope: scopes.join(' '),
      expires_at: Math.floor(key.expiresAt / 1000),
      remaining_uses: used.remainingUses,
    };
    return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(described);
  });
}
