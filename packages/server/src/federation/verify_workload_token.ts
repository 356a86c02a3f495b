/**
 * Verifies a workload's OIDC token (GitHub Actions, GitLab CI, Kubernetes, Buildkite …) against the
 * federations that trust its issuer, for both token exchange (RFC 8693) and the JWT bearer grant
 * (RFC 7523). The order matters:
 *
 * 1. size cap, then header and payload decoded WITHOUT trusting them;
 * 2. `iss` must be the issuer of an enabled federation — else refused before any key is fetched (TE-01);
 *    the header's `alg` must be on the allow-list, also before any fetch (TE-04);
 * 3. keys from the federation's configured source only (never `jku`/`x5u`/`jwk`), signature verified
 *    with jose and an explicit asymmetric allow-list;
 * 4. `aud` must contain the policy's audience (TE-02); `exp` required and not past, `nbf` and `iat` not
 *    in the future beyond the tolerated skew; legacy Kubernetes tokens refused (TE-05);
 * 5. every condition of a federation must match; none matching, or matches naming different principals,
 *    is a refusal of policy rather than of the token.
 *
 * `jti` replay is claimed by the caller, after its own checks, so a refused request does not burn it.
 */
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JSONWebKeySet,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { Kysely } from 'kysely';
import { verifyWithCandidateKeys } from '../crypto/candidate_keys.js';
import type { Database } from '../storage/schema.js';
import type { Federation } from './federation.js';
import { findEnabledFederationsByIssuer } from './federation_store.js';
import { globMatches } from './glob.js';
import { type IssuerKeys, IssuerKeysUnavailable, type KeySource } from './issuer_keys.js';
import { workloadTokenAlgorithms } from './policy.js';
import { claimValue, isPresetName, presets } from './presets.js';

/** The largest workload token looked at (GitHub's are about 1.5 KiB). */
export const MAX_WORKLOAD_TOKEN_LENGTH = 16 * 1024;
/** A workload token may live at most this long from now: longer is a misconfigured issuer. */
export const MAX_WORKLOAD_TOKEN_LIFETIME_SECONDS = 24 * 3600;
/** Kubernetes' legacy (Secret-based) service-account tokens carry this issuer, no `exp`, no `aud`. */
export const LEGACY_KUBERNETES_ISSUER = 'kubernetes/serviceaccount';

/**
 * Why a workload token was refused. `token` reasons are about the token itself (RFC 8693 §2.2.2:
 * `invalid_request` for token exchange); `policy` reasons mean no trust policy accepts an otherwise
 * valid token (`invalid_grant`); `unavailable` means the issuer's keys could not be had.
 */
type RefusalReason =
  | 'oversized'
  | 'malformed'
  | 'legacy_kubernetes_token'
  | 'unknown_issuer'
  | 'algorithm_not_allowed'
  | 'bad_signature'
  | 'wrong_audience'
  | 'missing_exp'
  | 'expired'
  | 'lifetime_too_long'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'no_matching_policy'
  | 'ambiguous_policy'
  | 'principal_unavailable'
  | 'replayed'
  | 'issuer_keys_unavailable';

const policyReasons: ReadonlySet<RefusalReason> = new Set([
  'no_matching_policy',
  'ambiguous_policy',
  'principal_unavailable',
]);

export class WorkloadTokenRefused extends Error {
  override name = 'WorkloadTokenRefused';
  constructor(
    readonly reason: RefusalReason,
    message: string,
    /** What is known of the token, for the audit record: bounded, never the token. */
    readonly facts: {
      issuer?: string;
      subject?: string;
      federationIds?: string[];
      /** Per federation considered, the first condition the token failed: `fed_…: claim NAME`. */
      failedConditions?: string[];
    } = {},
  ) {
    super(message);
  }

  get kind(): 'token' | 'policy' | 'unavailable' {
    if (this.reason === 'issuer_keys_unavailable') return 'unavailable';
    return policyReasons.has(this.reason) ? 'policy' : 'token';
  }
}

interface VerifyDeps {
  db: Kysely<Database>;
  issuerKeys: IssuerKeys;
  clock: () => number;
  clockToleranceSeconds: number;
}

export interface VerifiedWorkloadToken {
  /** Every federation whose conditions the token meets, in id order; all name the same principal. */
  federations: Federation[];
  clientId: string;
  issuer: string;
  subject: string;
  claims: Record<string, unknown>;
  jti: string | undefined;
  /** Seconds since the epoch. */
  exp: number;
}

/** Text from a token, made safe and short for an audit record or an error description. */
export function bounded(value: unknown, max = 256): string | undefined {
  if (typeof value !== 'string') return undefined;
  const clean = value.replace(/\p{Cc}/gu, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function sourceKey(f: Federation): string {
  if (f.jwks) return `inline:${JSON.stringify(f.jwks)}`;
  return f.jwksUri ? `uri:${f.jwksUri}` : 'discovery';
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;
// jose imports a JWK the first time a local set uses it and keeps it in that set: building a set per
// request re-imported the issuer's key on every exchange. Sets are kept per fetched key set (its object
// lives as long as the cache entry) and per inline JWKS text (bounded).
const fetchedKeySets = new WeakMap<JSONWebKeySet, LocalKeySet>();
const inlineKeySets = new Map<string, LocalKeySet>();
const MAX_INLINE_KEY_SETS = 1000;

function localKeySet(jwks: JSONWebKeySet, inlineId: string | null): LocalKeySet {
  if (inlineId === null) {
    let set = fetchedKeySets.get(jwks);
    if (!set) {
      set = createLocalJWKSet(jwks);
      fetchedKeySets.set(jwks, set);
    }
    return set;
  }
  let set = inlineKeySets.get(inlineId);
  if (!set) {
    if (inlineKeySets.size >= MAX_INLINE_KEY_SETS) inlineKeySets.clear();
    set = createLocalJWKSet(jwks);
    inlineKeySets.set(inlineId, set);
  }
  return set;
}

/** The signature algorithms the federations accept: their presets', else every asymmetric one. */
export function allowedAlgorithms(federations: readonly Federation[]): string[] {
  const allowed = new Set<string>();
  for (const f of federations) {
    const algs = f.preset && isPresetName(f.preset) ? presets[f.preset].algorithms : workloadTokenAlgorithms;
    for (const a of algs) allowed.add(a);
  }
  return [...allowed];
}

export function audienceIncludes(aud: unknown, audience: string): boolean {
  if (typeof aud === 'string') return aud === audience;
  return Array.isArray(aud) && aud.length <= 32 && aud.includes(audience);
}

function conditionMet(c: Federation['conditions'][number], claims: Record<string, unknown>): boolean {
  const value = claimValue(claims, c.claim);
  return value !== undefined && value.length <= 4096 && globMatches(c.pattern, value);
}

function meetsConditions(federation: Federation, claims: Record<string, unknown>): boolean {
  return federation.conditions.every((c) => conditionMet(c, claims));
}

/** The first condition of the federation the claims fail, by claim name (never the claim's value). */
function firstFailedCondition(federation: Federation, claims: Record<string, unknown>): string {
  const failed = federation.conditions.find((c) => !conditionMet(c, claims));
  return `${federation.id}: claim ${failed?.claim ?? '?'}`;
}

export async function verifyWorkloadToken(deps: VerifyDeps, token: string): Promise<VerifiedWorkloadToken> {
  if (token.length > MAX_WORKLOAD_TOKEN_LENGTH)
    throw new WorkloadTokenRefused('oversized', 'the token is too large');

  // 1. Read without trusting: only to find the policies and the keys.
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token);
    unverified = decodeJwt(token);
  } catch {
    throw new WorkloadTokenRefused('malformed', 'the token is not a well-formed JWT');
  }
  const facts = { issuer: bounded(unverified.iss), subject: bounded(unverified.sub) };
  if (typeof unverified.iss !== 'string' || !unverified.iss) {
    throw new WorkloadTokenRefused('malformed', 'the token has no iss', facts);
  }
  const issuer = unverified.iss;
  if (issuer === LEGACY_KUBERNETES_ISSUER) {
    throw new WorkloadTokenRefused(
      'legacy_kubernetes_token',
      'legacy Kubernetes service-account tokens are not accepted; use a projected token with an audience',
      facts,
    );
  }

  // 2. Only issuers a policy names; only allowed algorithms. Nothing fetched before both hold.
  const candidates = issuer.length <= 2048 ? await findEnabledFederationsByIssuer(deps.db, issuer) : [];
  if (candidates.length === 0) {
    throw new WorkloadTokenRefused('unknown_issuer', 'the token issuer is not trusted', facts);
  }
  const algorithms = allowedAlgorithms(candidates);
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    throw new WorkloadTokenRefused(
      'algorithm_not_allowed',
      'the token signature algorithm is not allowed',
      facts,
    );
  }

  // 3. Signature, with the keys of each configured source (normally one per issuer).
  const groups = new Map<string, Federation[]>();
  for (const f of candidates) {
    const key = sourceKey(f);
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const nowMs = deps.clock();
  let claims: Record<string, unknown> | undefined;
  let trusted: Federation[] = [];
  let failure: unknown;
  for (const [groupKey, group] of groups) {
    const first = group[0] as Federation;
    const source: KeySource = { issuer, jwks: first.jwks, jwksUri: first.jwksUri };
    try {
      const jwks = await deps.issuerKeys.keysFor(source, kid);
      const keySet = localKeySet(jwks, first.jwks ? groupKey : null);
      // Without a `kid`, every key of the source that fits the `alg` is tried (a rotation's two keys).
      const { payload } = await verifyWithCandidateKeys(keySet, (key) =>
        jwtVerify(token, key, {
          algorithms,
          issuer,
          currentDate: new Date(nowMs),
          clockTolerance: deps.clockToleranceSeconds,
          requiredClaims: ['exp'],
        }),
      );
      claims = payload as Record<string, unknown>;
      trusted = group;
      break;
    } catch (err) {
      failure = err;
    }
  }
  if (!claims) throw refusalFor(failure, facts);

  // 4. Claims the policies do not vary.
  const now = Math.floor(nowMs / 1000);
  const skew = deps.clockToleranceSeconds;
  const exp = claims.exp as number;
  if (exp > now + MAX_WORKLOAD_TOKEN_LIFETIME_SECONDS + skew) {
    throw new WorkloadTokenRefused('lifetime_too_long', 'the token expires too far in the future', facts);
  }
  if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat > now + skew)) {
    throw new WorkloadTokenRefused('issued_in_future', 'the token is issued in the future', facts);
  }
  if (claims.aud === undefined) {
    throw new WorkloadTokenRefused('wrong_audience', 'the token has no audience', facts);
  }
  // A policy takes only the algorithms of its preset, and only its own audience.
  const algorithmOk = trusted.filter((f) => allowedAlgorithms([f]).includes(header.alg as string));
  if (algorithmOk.length === 0) {
    throw new WorkloadTokenRefused(
      'algorithm_not_allowed',
      'the token signature algorithm is not allowed',
      facts,
    );
  }
  const forUs = algorithmOk.filter((f) => audienceIncludes(claims.aud, f.audience));
  if (forUs.length === 0) {
    throw new WorkloadTokenRefused('wrong_audience', 'the token audience is not this server', facts);
  }
  if (typeof claims.sub !== 'string' || !claims.sub) {
    throw new WorkloadTokenRefused('malformed', 'the token has no sub', facts);
  }
  const jti = claims.jti;
  if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > 256)) {
    throw new WorkloadTokenRefused('malformed', 'the token jti is malformed', facts);
  }

  // 5. Policies.
  const matching = forUs.filter((f) => meetsConditions(f, claims));
  if (matching.length === 0) {
    throw new WorkloadTokenRefused('no_matching_policy', 'no federation policy matches the token', {
      ...facts,
      federationIds: forUs.map((f) => f.id).slice(0, 20),
      failedConditions: forUs.slice(0, 20).map((f) => firstFailedCondition(f, claims)),
    });
  }
  const principals = new Set(matching.map((f) => f.clientId));
  if (principals.size > 1) {
    throw new WorkloadTokenRefused(
      'ambiguous_policy',
      'the token matches federations of different principals',
      { ...facts, federationIds: matching.map((f) => f.id).slice(0, 20) },
    );
  }
  return {
    federations: matching,
    clientId: (matching[0] as Federation).clientId,
    issuer,
    subject: claims.sub,
    claims,
    jti,
    exp,
  };
}

function refusalFor(err: unknown, facts: { issuer?: string; subject?: string }): WorkloadTokenRefused {
  if (err instanceof IssuerKeysUnavailable) {
    return new WorkloadTokenRefused('issuer_keys_unavailable', 'the issuer keys are unavailable', facts);
  }
  if (err instanceof joseErrors.JWTExpired) {
    return new WorkloadTokenRefused('expired', 'the token has expired', facts);
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'exp')
      return new WorkloadTokenRefused('missing_exp', 'the token has no valid exp', facts);
    if (err.claim === 'nbf')
      return new WorkloadTokenRefused('not_yet_valid', 'the token is not yet valid', facts);
    if (err.claim === 'iat')
      return new WorkloadTokenRefused('issued_in_future', 'the token iat is invalid', facts);
    return new WorkloadTokenRefused('malformed', 'the token claims are invalid', facts);
  }
  if (err instanceof joseErrors.JWTInvalid) {
    return new WorkloadTokenRefused('malformed', 'the token payload is invalid', facts);
  }
  return new WorkloadTokenRefused('bad_signature', 'the token signature does not verify', facts);
}
