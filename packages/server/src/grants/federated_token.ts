/**
 * Issuing a service principal's access token for a verified workload token — shared by token exchange
 * (RFC 8693) and the JWT bearer grant (RFC 7523), which differ only in how refusals are worded on the
 * wire. The token's `sub` and `client_id` are the federation's principal; its `federation` claim says
 * where it came from (issuer, subject, the CI run), and so does the `token.issue` audit record, so every
 * call made with it is attributable to a pipeline run. Every refusal is audited with its reason and
 * what is known of the token — never the token.
 */
import {
  GrantType,
  InvalidGrant,
  InvalidRequest,
  OAuthError,
  TemporarilyUnavailable,
  type TokenResponse,
} from '@clavis/core';
import type { Kysely } from 'kysely';
import type { AuditEntry } from '../audit/events.js';
import type { FailureLog } from '../audit/failure_log.js';
import { refuseWith } from '../audit/refuse.js';
import type { ClientDirectory } from '../clients/client_directory.js';
import type { Federation } from '../federation/federation.js';
import type { IssuerKeys } from '../federation/issuer_keys.js';
import { claimValue, isPresetName, presets } from '../federation/presets.js';
import {
  bounded,
  type VerifiedWorkloadToken,
  verifyWorkloadToken,
  WorkloadTokenRefused,
} from '../federation/verify_workload_token.js';
import { claimOnce } from '../storage/replay_guard.js';
import type { Database } from '../storage/schema.js';
import { issueAccessToken } from '../tokens/access_token.js';
import type { CredentialGrantRequest, IssuingDeps } from './grant.js';
import { requireClaimedPrincipal } from './principal.js';
import { grantedAudience, grantedScopes } from './scopes.js';
import { bearerTokenResponse, issuedTokenFacts } from './token_response.js';

type FederatedGrantKind = 'token-exchange' | 'jwt-bearer';

/** How long a caller should wait before retrying when an issuer's keys cannot be fetched. */
const KEYS_RETRY_AFTER_SECONDS = 60;

/**
 * The wire error for a refusal. Token exchange answers a bad subject token with `invalid_request`
 * (RFC 8693 §2.2.2); the JWT bearer grant answers every bad assertion with `invalid_grant` (RFC 7523
 * §3.1); a token no policy (or no live principal) accepts is `invalid_grant` for both.
 */
function wireError(refusal: WorkloadTokenRefused, kind: FederatedGrantKind): OAuthError {
  const what = kind === 'token-exchange' ? 'subject_token' : 'assertion';
  const description = `${what} refused: ${refusal.message}`;
  switch (refusal.kind) {
    case 'unavailable':
      return new TemporarilyUnavailable(description, { retryAfterSeconds: KEYS_RETRY_AFTER_SECONDS });
    case 'policy':
      return new InvalidGrant(description);
    default:
      return kind === 'token-exchange' ? new InvalidRequest(description) : new InvalidGrant(description);
  }
}

/** Where the token came from: `{id, iss, sub}` plus the platform's run identifiers present in it. */
function provenance(federation: Federation, verified: VerifiedWorkloadToken): Record<string, string> {
  const out: Record<string, string> = {
    id: federation.id,
    iss: verified.issuer,
    sub: bounded(verified.subject) ?? '',
  };
  const preset =
    federation.preset && isPresetName(federation.preset) ? presets[federation.preset] : undefined;
  for (const [name, claim] of Object.entries(preset?.runClaims ?? {})) {
    const value = claimValue(verified.claims, claim);
    if (value !== undefined && value.length > 0 && value.length <= 256) out[name] = bounded(value) ?? '';
  }
  return out;
}

/** What exchanging a workload token needs besides issuing: the federations, their keys, the clients. */
export interface FederatedTokenDeps extends IssuingDeps {
  db: Kysely<Database>;
  /** Refused workload tokens are charged to the caller's address, then aggregated. */
  failures: FailureLog;
  clients: ClientDirectory;
  /** Workload-token issuers' keys, cached per instance. */
  issuerKeys: IssuerKeys;
}

export async function issueFederatedToken(
  deps: FederatedTokenDeps,
  request: CredentialGrantRequest,
  workloadToken: string,
  kind: FederatedGrantKind,
): Promise<TokenResponse> {
  const grantType = kind === 'token-exchange' ? GrantType.TokenExchange : GrantType.JwtBearer;
  const { config, audit } = deps;
  const { context } = request;
  // Charged to the caller's address before it is recorded; over the budget, 429 instead.
  const deny = (
    reason: string,
    facts: WorkloadTokenRefused['facts'],
    error: Error,
    clientId?: string,
  ): Promise<never> =>
    refuseWith(
      deps.failures,
      {
        entry: {
          event: 'federation.exchange_denied',
          outcome: 'failure',
          actor: { type: 'anonymous' },
          clientId: clientId ?? null,
          ip: context.ip,
          userAgent: context.userAgent,
          requestId: context.requestId,
          detail: {
            grant_type: grantType,
            reason,
            ...(facts.issuer !== undefined ? { iss: facts.issuer } : {}),
            ...(facts.subject !== undefined ? { sub: facts.subject } : {}),
            ...(facts.federationIds?.length ? { federation_ids: facts.federationIds } : {}),
            ...(facts.failedConditions?.length ? { failed_conditions: facts.failedConditions } : {}),
          },
        },
        subject: `${facts.issuer ?? ''} ${facts.subject ?? ''}`,
      },
      error,
      { charge: true },
    );

  let verified: VerifiedWorkloadToken;
  try {
    verified = await verifyWorkloadToken(
      {
        db: deps.db,
        issuerKeys: deps.issuerKeys,
        clock: config.clock,
        clockToleranceSeconds: config.clockToleranceSeconds,
      },
      workloadToken,
    );
  } catch (err) {
    if (!(err instanceof WorkloadTokenRefused)) throw err;
    return deny(err.reason, err.facts, wireError(err, kind));
  }

  const federations = verified.federations;
  const federation = federations[0] as Federation;
  const facts = {
    issuer: bounded(verified.issuer),
    subject: bounded(verified.subject),
    federationIds: federations.map((f) => f.id),
  };
  try {
    requireClaimedPrincipal(request, verified.clientId);
    const now = config.clock();
    const found = await deps.clients.find(verified.clientId, now);
    const client = found?.client;
    if (client?.kind !== 'confidential' || client.disabledAt !== null) {
      throw new WorkloadTokenRefused(
        'principal_unavailable',
        'the service principal is not available',
        facts,
      );
    }
    // Every matching policy must allow what is issued: the narrowest of them wins.
    const ceiling = client.scopes.filter((s) => federations.every((f) => f.scopes.includes(s)));
    const scopes = grantedScopes(
      request.params,
      ceiling,
      (outside) => `scope not allowed for this federation: ${outside.slice(0, 5).join(' ')}`,
    );
    const audience = grantedAudience(request.params, client.audiences, config.issuer);
    const ttl = Math.min(
      ...federations.map((f) => f.maxTtlSeconds),
      client.tokenTtlSeconds,
      config.maxAccessTokenTtlSeconds,
    );
    const origin = provenance(federation, verified);
    const { token, claims } = await issueAccessToken(deps.keys, {
      issuer: config.issuer,
      subject: client.id,
      audience,
      clientId: client.id,
      scopes,
      ttlSeconds: ttl,
      now,
      extra: { federation: origin },
    });
    const issued: AuditEntry = {
      event: 'token.issue',
      actor: { type: 'client', id: client.id },
      clientId: client.id,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      detail: {
        grant_type: grantType,
        ...issuedTokenFacts(claims),
        federation: origin,
        ...(federations.length > 1 ? { federation_ids: facts.federationIds } : {}),
      },
    };
    // A workload token is exchanged once when it carries a jti (GitHub's, GitLab's and Kubernetes' do).
    // The token signed above is returned only if this claim wins. The claim is atomic across instances
    // on its own, so it may commit apart from the token's record (see RunOptions).
    if (verified.jti === undefined) {
      await audit.record(issued);
    } else {
      const key = `fed:${verified.issuer}:${verified.jti}`;
      const until = (verified.exp + config.clockToleranceSeconds) * 1000;
      const claimed = await audit.run(claimOnce(key, until), (won) => (won ? issued : null), {
        mayCommitApart: true,
      });
      if (!claimed) throw new WorkloadTokenRefused('replayed', 'the token has already been used', facts);
    }
    return bearerTokenResponse(token, claims, ttl);
  } catch (err) {
    if (err instanceof WorkloadTokenRefused) {
      return deny(err.reason, err.facts, wireError(err, kind), verified.clientId);
    }
    if (err instanceof OAuthError) return deny(err.code, facts, err, verified.clientId);
    throw err;
  }
}
