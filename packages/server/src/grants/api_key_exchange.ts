/**
 * Token exchange of a Clavis API key (RFC 8693, `subject_token_type` = `TokenType.ApiKey`) for a short-lived access token. The key is the
 * credential: no client authentication; a `client_id` sent must name the key's owning client.
 *
 * The token's `sub` is the owner (a client id, or a person's user id as the device flow issues it), its
 * `client_id` the owning client — or, for a person's key, the key's id — and `api_key_id` names the key.
 * Any unusable key gets one identical `invalid_request` (§2.2.2); the audit record holds the reason. An
 * address outside the allow-list is `invalid_request` too, with its own description (400, as every error
 * of the token endpoint but `invalid_client` and rate limits, RFC 6749 §5.2; the verify endpoint answers
 * 403); the rate limit is 429. No refresh token.
 */
import {
  GrantType,
  InvalidRequest,
  type OAuthError,
  ServerError,
  type TokenResponse,
  TokenType,
  TooManyRequests,
} from '@clavis/core';
import { keyDenial } from '../api_keys/key_denial.js';
import {
  type ApiKeyRejection,
  type ApiKeyVerifier,
  INVALID_KEY_REASONS,
} from '../api_keys/verify_api_key.js';
import type { FailureLog } from '../audit/failure_log.js';
import { refuseWith } from '../audit/refuse.js';
import { issueAccessToken } from '../tokens/access_token.js';

import type { IssuingDeps } from './grant.js';
import { requireClaimedPrincipal } from './principal.js';
import { grantedAudience, grantedScopes } from './scopes.js';
import type { SubjectTokenHandler, SubjectTokenRequest } from './token_exchange.js';
import { bearerTokenResponse, issuedTokenFacts } from './token_response.js';

/** The one answer for every unusable key: malformed, mistyped, unknown, revoked, expired, exhausted. */
const INVALID_KEY_DESCRIPTION = 'the subject token is not a valid API key';

function refusal(reason: ApiKeyRejection, retryAfterSeconds = 60): OAuthError {
  if (INVALID_KEY_REASONS.has(reason)) return new InvalidRequest(INVALID_KEY_DESCRIPTION);
  if (reason === 'address_not_allowed' || reason === 'address_missing')
    return new InvalidRequest('the API key may not be used from this address');
  if (reason === 'rate_limited')
    return new TooManyRequests('the API key is over its rate limit', retryAfterSeconds);
  return new ServerError('internal error');
}

/** What exchanging an API key needs: the key verifier (absent, keys are refused) and what issuing needs. */
export interface ApiKeyExchangeDeps extends Pick<IssuingDeps, 'config' | 'keys'> {
  /** Refused keys are charged to the caller's address, then aggregated. */
  failures: FailureLog;
  /** The app's one API-key verifier (it batches use counts). */
  apiKeys?: ApiKeyVerifier | undefined;
}

export const apiKeyExchange: SubjectTokenHandler<ApiKeyExchangeDeps> = {
  tokenTypes: [TokenType.ApiKey],

  async exchange(deps: ApiKeyExchangeDeps, request: SubjectTokenRequest): Promise<TokenResponse> {
    const { config, failures, apiKeys } = deps;
    const { context } = request;
    if (!apiKeys) throw new InvalidRequest('unsupported subject_token_type');
    const callerClientId = request.client?.id ?? request.claimedClientId;
    // Charged to the caller's address: whoever presents a key need not have authenticated.
    const deny = (reason: ApiKeyRejection, keyId?: string, retryAfter?: number): Promise<never> =>
      refuseWith(
        failures,
        keyDenial({ reason, keyId, via: 'token_exchange', context, callerClientId }),
        refusal(reason, retryAfter),
        { charge: true },
      );

    const inspected = await apiKeys.inspect(request.subjectToken, context.ip);
    if (!inspected.ok) return deny(inspected.reason, inspected.key?.id);
    const { key, owner } = inspected;
    const ownerClientId = owner.type === 'client' ? owner.id : null;
    try {
      requireClaimedPrincipal(request, ownerClientId);
    } catch (err) {
      const denial = keyDenial({
        reason: 'principal_mismatch',
        keyId: key.id,
        via: 'token_exchange',
        context,
        callerClientId,
      });
      return refuseWith(failures, denial, err as Error, { charge: true });
    }
    const scopes = grantedScopes(
      request.params,
      inspected.scopes,
      (outside) => `scope not allowed for this API key: ${outside.slice(0, 5).join(' ')}`,
    );
    const audience = grantedAudience(
      request.params,
      owner.type === 'client' ? owner.client.audiences : [],
      config.issuer,
    );

    // The lifetime is settled before the use is consumed: a key in its last second is refused unspent.
    const now = config.clock();
    const ownerTtl =
      owner.type === 'client' ? owner.client.tokenTtlSeconds : config.defaultAccessTokenTtlSeconds;
    const ttl = Math.min(ownerTtl, config.maxAccessTokenTtlSeconds, Math.floor((key.expiresAt - now) / 1000));
    if (ttl < 1) return deny('expired', key.id);

    const limited = await apiKeys.checkRateLimit(key);
    if (!limited.ok) return deny(limited.reason, key.id, limited.retryAfterSeconds);

    // Signed first, so the use and the token's record commit in one unit: a crash or an outage before
    // that commit loses neither a use without a token nor a token without its record.
    const clientId = owner.type === 'client' ? owner.id : key.id;
    const { token, claims } = await issueAccessToken(deps.keys, {
      issuer: config.issuer,
      subject: owner.id,
      audience,
      clientId,
      scopes,
      ttlSeconds: ttl,
      now,
      extra: { api_key_id: key.id },
    });
    const used = await apiKeys.use(key, context.ip, () => ({
      event: 'token.issue',
      actor: { type: owner.type, id: owner.id },
      clientId,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      detail: {
        grant_type: GrantType.TokenExchange,
        subject_token_type: TokenType.ApiKey,
        api_key_id: key.id,
        ...issuedTokenFacts(claims),
      },
    }));
    if (!used.ok) return deny(used.reason, key.id);
    return bearerTokenResponse(token, claims, ttl);
  },
};
