/**
 * Evaluates a workload token against ONE federation, for an operator checking a policy (`clavis admin
 * federations test`): every condition an exchange would check, each reported by name with pass or fail
 * and why, without issuing anything, burning the token's `jti` or writing to the audit log. Where the
 * exchange stops at the first failure, this goes on, so one run shows everything that is wrong.
 *
 * The names: `token_format`, `federation_enabled`, `principal`, `issuer`, `algorithm`, `signature`,
 * `audience`, `expiry`, `not_before`, `issued_at`, `subject`, `claim CLAIM`, `subject_pinning`.
 */
import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader } from 'jose';
import type { Client } from '../clients/client.js';
import type { Federation } from './federation.js';
import { globMatches } from './glob.js';
import { type IssuerKeys, IssuerKeysUnavailable } from './issuer_keys.js';
import { claimValue, isPresetName, presets } from './presets.js';
import {
  allowedAlgorithms,
  audienceIncludes,
  bounded,
  MAX_WORKLOAD_TOKEN_LENGTH,
  MAX_WORKLOAD_TOKEN_LIFETIME_SECONDS,
} from './verify_workload_token.js';

export interface ConditionResult {
  name: string;
  pass: boolean;
  /** What was expected and what the token carries, bounded; never the token. */
  detail: string;
}

export interface EvaluateDeps {
  issuerKeys: Pick<IssuerKeys, 'keysFor'>;
  clock: () => number;
  clockToleranceSeconds: number;
}

const show = (value: unknown): string => {
  if (value === undefined) return 'absent';
  if (typeof value === 'string') return JSON.stringify(bounded(value, 120));
  return bounded(JSON.stringify(value), 120) ?? 'absent';
};

export async function evaluateWorkloadToken(
  deps: EvaluateDeps,
  federation: Federation,
  principal: Client | undefined,
  token: string,
): Promise<ConditionResult[]> {
  const results: ConditionResult[] = [];
  const add = (name: string, pass: boolean, detail: string) => results.push({ name, pass, detail });

  add(
    'federation_enabled',
    federation.disabledAt === null,
    federation.disabledAt === null
      ? 'enabled'
      : `disabled at ${new Date(federation.disabledAt).toISOString()}`,
  );
  add(
    'principal',
    principal !== undefined && principal.kind === 'confidential' && principal.disabledAt === null,
    principal === undefined
      ? `client ${federation.clientId} does not exist`
      : principal.disabledAt !== null
        ? `client ${principal.id} is disabled`
        : `client ${principal.id}`,
  );

  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: Record<string, unknown>;
  try {
    if (token.length > MAX_WORKLOAD_TOKEN_LENGTH) throw new Error('too large');
    header = decodeProtectedHeader(token);
    claims = decodeJwt(token);
  } catch {
    add(
      'token_format',
      false,
      token.length > MAX_WORKLOAD_TOKEN_LENGTH
        ? `larger than ${MAX_WORKLOAD_TOKEN_LENGTH} bytes`
        : 'not a well-formed JWT',
    );
    return results;
  }
  add('token_format', true, 'a JWT');

  add(
    'issuer',
    claims.iss === federation.issuer,
    `want ${show(federation.issuer)}, token has ${show(claims.iss)}`,
  );
  const algorithms = allowedAlgorithms([federation]);
  const alg = typeof header.alg === 'string' ? header.alg : undefined;
  const algOk = alg !== undefined && algorithms.includes(alg);
  add('algorithm', algOk, `token has ${show(header.alg)}; allowed ${algorithms.join(' ')}`);

  // The signature, with the federation's own key source only; never a key the token points to.
  if (!algOk) add('signature', false, 'not checked: the algorithm is not allowed');
  else {
    try {
      const jwks = await deps.issuerKeys.keysFor(
        { issuer: federation.issuer, jwks: federation.jwks, jwksUri: federation.jwksUri },
        typeof header.kid === 'string' ? header.kid : undefined,
      );
      await compactVerify(token, createLocalJWKSet(jwks), { algorithms });
      add(
        'signature',
        true,
        `verified with ${federation.jwks ? 'the inline JWKS' : federation.jwksUri ? 'the jwks_uri' : "the issuer's discovered keys"}`,
      );
    } catch (err) {
      add(
        'signature',
        false,
        err instanceof IssuerKeysUnavailable ? "the issuer's keys could not be fetched" : 'does not verify',
      );
    }
  }

  add(
    'audience',
    audienceIncludes(claims.aud, federation.audience),
    `want ${show(federation.audience)}, token has ${show(claims.aud)}`,
  );

  const now = Math.floor(deps.clock() / 1000);
  const skew = deps.clockToleranceSeconds;
  const exp = claims.exp;
  if (typeof exp !== 'number') add('expiry', false, 'the token has no exp');
  else {
    const at = new Date(exp * 1000).toISOString();
    if (exp <= now - skew) add('expiry', false, `expired at ${at}`);
    else if (exp > now + MAX_WORKLOAD_TOKEN_LIFETIME_SECONDS + skew)
      add('expiry', false, `expires at ${at}: too far in the future`);
    else add('expiry', true, `expires at ${at}`);
  }
  if (claims.nbf !== undefined) {
    const ok = typeof claims.nbf === 'number' && claims.nbf <= now + skew;
    add('not_before', ok, ok ? 'valid now' : `not valid before ${show(claims.nbf)}`);
  }
  if (claims.iat !== undefined) {
    const ok = typeof claims.iat === 'number' && claims.iat <= now + skew;
    add('issued_at', ok, ok ? 'in the past' : `issued in the future (${show(claims.iat)})`);
  }
  add('subject', typeof claims.sub === 'string' && claims.sub.length > 0, `sub is ${show(claims.sub)}`);

  const preset =
    federation.preset !== null && isPresetName(federation.preset) ? presets[federation.preset] : undefined;
  const pinning = new Set(['sub', ...(preset?.repositoryClaim ? [preset.repositoryClaim] : [])]);
  let pinned = false;
  let pinFailed = false;
  for (const c of federation.conditions) {
    const value = claimValue(claims, c.claim);
    const ok = value !== undefined && value.length <= 4096 && globMatches(c.pattern, value);
    add(`claim ${c.claim}`, ok, `want ${show(c.pattern)}, token has ${show(value)}`);
    if (pinning.has(c.claim)) {
      pinned = true;
      if (!ok) pinFailed = true;
    }
  }
  add(
    'subject_pinning',
    pinned && !pinFailed,
    !pinned
      ? `no condition on ${[...pinning].join(' or ')}`
      : pinFailed
        ? `the ${[...pinning].join('/')} condition does not match`
        : `pinned by ${[...pinning].filter((p) => federation.conditions.some((c) => c.claim === p)).join(', ')}`,
  );
  return results;
}
