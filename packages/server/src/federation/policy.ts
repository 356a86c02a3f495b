/**
 * The rules a federation (trust policy) must satisfy before it is stored. Most federation incidents are
 * policies that trust too much — an audience-only trust, `repo:acme/*` — so they are refused here, at
 * creation, rather than discovered in an audit:
 *
 * - the issuer is an https URL (http only on loopback), without query, fragment or credentials;
 * - the audience is a non-empty string;
 * - conditions are `claim=pattern`, the pattern exact or a `*` glob, bounded in size and number;
 * - at least one condition pins the subject: `sub`, or the preset's repository-like claim (GitHub
 *   `repository`, GitLab `project_path`, Buildkite `pipeline_slug` with `organization_slug`), and no
 *   `sub` or repository pattern may have a wildcard that swallows the repository (TE-03);
 * - a repository pattern with a wildcard (`repository=acme/*`, `project_path=group/*`) trusts every
 *   repository it matches, including ones any member can create later: it pins the subject only when the
 *   operator says so (`allowOrgWide`, `--allow-org-wide`);
 * - an inline JWKS holds only public asymmetric keys.
 *
 * A policy that passes may still trust every branch, tag and pull-request run of its repository: see
 * {@link runPinWarnings}.
 */
import type { JSONWebKeySet } from 'jose';
import { checkPublicSigningJwks, JwksError } from '../crypto/public_jwks.js';
import { isHttpsOrLoopback } from '../http/loopback.js';
import { isGlob, literalPrefix } from './glob.js';
import type { Preset } from './presets.js';

export class PolicyError extends Error {
  override name = 'PolicyError';
}

export interface Condition {
  claim: string;
  pattern: string;
}

const MAX_CONDITIONS = 16;
const MAX_PATTERN_LENGTH = 256;
const MAX_WILDCARDS = 8;
const claimNamePattern = /^[A-Za-z0-9_.:-]{1,64}(\/[A-Za-z0-9_.:-]{1,64}){0,3}$/;

/** Signature algorithms accepted on workload tokens: asymmetric only — never `none` or HMAC. */
export const workloadTokenAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
  'Ed25519',
] as const;

function refuse(message: string): never {
  throw new PolicyError(message);
}

/** An https URL (http only for a loopback host), with no credentials, query or fragment. */
export function checkFetchableUrl(what: string, value: string): URL {
  if (value.length > 2048) refuse(`${what} is too long`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    refuse(`${what} is not a URL`);
  }
  if (!isHttpsOrLoopback(url)) {
    refuse(`${what} must be https (http only for a loopback host)`);
  }
  if (url.username || url.password) refuse(`${what} must not carry credentials`);
  return url;
}

/** The issuer as tokens carry it in `iss`: compared exactly, so it is stored exactly as given. */
export function checkIssuer(issuer: string): string {
  const url = checkFetchableUrl('the issuer', issuer);
  if (url.search || url.hash) refuse('the issuer must not have a query or fragment');
  return issuer;
}

export function checkAudience(audience: string): string {
  if (!audience || audience.length > 512 || /[\s\p{Cc}]/u.test(audience)) {
    refuse('the audience must be 1 to 512 characters without spaces');
  }
  return audience;
}

/** Parses `claim=pattern` (the CLI's `--claim`). The first `=` separates them. */
export function parseCondition(text: string): Condition {
  const eq = text.indexOf('=');
  if (eq <= 0) refuse(`a condition is written claim=pattern, got "${text.slice(0, 60)}"`);
  return { claim: text.slice(0, eq), pattern: text.slice(eq + 1) };
}

interface ConditionOptions {
  /**
   * Accept a wildcard in the repository pin (`repository=acme/*`, `project_path=group/*`): every
   * repository it matches is trusted, including new ones. Off by default.
   */
  allowOrgWide?: boolean;
}

export function checkConditions(
  conditions: readonly Condition[],
  preset: Preset | undefined,
  options: ConditionOptions = {},
): Condition[] {
  if (conditions.length === 0) refuse('a federation needs at least one claim condition');
  if (conditions.length > MAX_CONDITIONS) refuse(`at most ${MAX_CONDITIONS} conditions`);
  const seen = new Set<string>();
  const checked: Condition[] = [];
  for (const c of conditions) {
    if (typeof c?.claim !== 'string' || typeof c.pattern !== 'string') refuse('a condition is malformed');
    if (!claimNamePattern.test(c.claim)) refuse(`"${c.claim.slice(0, 60)}" is not a claim name`);
    if (seen.has(c.claim)) refuse(`claim ${c.claim} has two conditions`);
    seen.add(c.claim);
    if (c.pattern.length === 0 || c.pattern.length > MAX_PATTERN_LENGTH) {
      refuse(`the pattern for ${c.claim} must be 1 to ${MAX_PATTERN_LENGTH} characters`);
    }
    if (/\p{Cc}/u.test(c.pattern)) refuse(`the pattern for ${c.claim} has control characters`);
    if ((c.pattern.match(/\*/g)?.length ?? 0) > MAX_WILDCARDS) {
      refuse(`the pattern for ${c.claim} has more than ${MAX_WILDCARDS} wildcards`);
    }
    checked.push({ claim: c.claim, pattern: c.pattern });
  }
  checkPinned(checked, preset, options);
  return checked;
}

/**
 * At least one condition pins the subject, and none pins it only in appearance (TE-03: a
 * policy trusting every repository of an organisation without a `sub` or repository condition).
 */
function checkPinned(
  conditions: readonly Condition[],
  preset: Preset | undefined,
  options: ConditionOptions,
): void {
  const byClaim = new Map(conditions.map((c) => [c.claim, c.pattern]));
  let pinned = false;

  const sub = byClaim.get('sub');
  if (sub !== undefined) {
    if (isGlob(sub)) {
      const prefix = preset?.subjectPrefix;
      if (!prefix?.test(literalPrefix(sub))) {
        refuse(
          preset?.subjectPrefix
            ? `the sub pattern "${sub.slice(0, 80)}" leaves the repository open; fix it up to the first wildcard (${describePrefix(preset)})`
            : `the sub pattern "${sub.slice(0, 80)}" has a wildcard; ${preset ? `${preset.name} subjects` : 'subjects of an issuer without a preset'} must match exactly`,
        );
      }
    }
    pinned = true;
  }

  const repoClaim = preset?.repositoryClaim;
  if (preset && repoClaim) {
    const repo = byClaim.get(repoClaim);
    if (repo !== undefined) {
      // An owner-qualified name (GitHub `acme/app`, GitLab `group/project`) must fix its owner.
      const ownerQualified = preset.repositoryCompanions.length === 0;
      if (ownerQualified && !/^[^/*]+\//.test(literalPrefix(repo))) {
        refuse(`the ${repoClaim} pattern "${repo.slice(0, 80)}" must name its owner exactly (owner/…)`);
      }
      const companions = preset.repositoryCompanions.map((name) => byClaim.get(name));
      const companionsExact = companions.every((p) => p !== undefined && !isGlob(p));
      if (companionsExact && (ownerQualified || !isGlob(repo))) {
        // A wildcard repository pins only if the operator accepts the whole set it matches (unless `sub`
        // already pins one repository).
        if (isGlob(repo) && !pinned && !options.allowOrgWide) {
          refuse(
            `the ${repoClaim} pattern "${repo.slice(0, 80)}" trusts every ${repoClaim === 'project_path' ? 'project' : 'repository'} it matches, including new ones any member can create; name one exactly, or pass --allow-org-wide if that is meant`,
          );
        }
        pinned = true;
      } else if (!pinned) {
        refuse(
          `a ${repoClaim} condition pins a ${preset.name} subject only as an exact value together with an exact ${preset.repositoryCompanions.join(', ')} condition`,
        );
      }
    }
  }

  if (!pinned) {
    const what = repoClaim ? `sub or ${repoClaim}` : 'sub';
    refuse(
      `a federation must pin the subject with a ${what} condition; claims alone such as the owner or audience trust too much`,
    );
  }
}

/**
 * What a valid policy leaves open that it probably should not: for a platform with branches and
 * environments, a policy without a `ref`, environment or workflow condition (nor a `sub` naming one)
 * trusts every run of the repository, pull-request runs (`pull_request_target`) included. Warnings, not
 * refusals: a repository whose every run deploys is a legitimate choice.
 */
export function runPinWarnings(conditions: readonly Condition[], preset: Preset | undefined): string[] {
  if (!preset || preset.runPinClaims.length === 0) return [];
  const narrows = conditions.some(
    (c) =>
      (preset.runPinClaims.includes(c.claim) && literalPrefix(c.pattern) !== '') ||
      (c.claim === 'sub' && preset.subjectRunPin?.test(literalPrefix(c.pattern)) === true),
  );
  if (narrows) return [];
  return [
    `no condition on ${preset.runPinClaims.join(', ')} (or a sub naming one): every branch, tag and pull-request run is trusted`,
  ];
}

function describePrefix(preset: Preset): string {
  switch (preset.name) {
    case 'github-actions':
      return 'repo:OWNER/REPO:…';
    case 'gitlab-ci':
      return 'project_path:GROUP/PROJECT:…';
    case 'buildkite':
      return 'organization:ORG:pipeline:PIPELINE:…';
    default:
      return 'exact';
  }
}

/**
 * Checks an issuer JWKS (inline, or as fetched) for keys that may sign workload tokens
 * ({@link checkPublicSigningJwks}); a refusal is a {@link PolicyError}.
 */
export async function checkJwks(jwks: unknown): Promise<JSONWebKeySet> {
  try {
    return await checkPublicSigningJwks(jwks, workloadTokenAlgorithms);
  } catch (err) {
    if (err instanceof JwksError) refuse(err.message);
    throw err;
  }
}
