/**
 * What Clavis knows about the platforms whose workload tokens it exchanges: the fixed issuer (where the
 * platform has one), the claims that identify a subject and a run, and which conditions pin a policy to
 * one subject — so `--preset github-actions --claim repository=acme/app --claim ref=refs/heads/main` is a
 * complete, safe policy.
 *
 * Claim names address top-level claims; a nested claim is written as a path with `/` (Kubernetes puts
 * its identity under `kubernetes.io`: `kubernetes.io/namespace`, `kubernetes.io/serviceaccount/name`,
 * `kubernetes.io/pod/name`). See {@link claimValue}.
 */

type PresetName = 'github-actions' | 'gitlab-ci' | 'kubernetes' | 'buildkite';

export interface Preset {
  name: PresetName;
  /** The platform's one issuer, or null where it is per installation (Kubernetes: per cluster). */
  issuer: string | null;
  /** Claims that identify the subject and the run, for documentation and `--claim` checks. */
  claims: readonly string[];
  /**
   * The claim naming the repository-like unit of trust (GitHub `repository`), whose condition pins a
   * policy as well as a `sub` condition does; null where only `sub` can.
   */
  repositoryClaim: string | null;
  /** Further claims that must be pinned exactly alongside `repositoryClaim` (Buildkite: the org). */
  repositoryCompanions: readonly string[];
  /**
   * What the literal start of a `sub` pattern (the text before its first `*`) must match for the
   * wildcard not to swallow the repository: GitHub `repo:OWNER/REPO:`. Null: `sub` must be exact.
   */
  subjectPrefix: RegExp | null;
  /**
   * The run identifiers copied into the issued token's `federation` claim and the audit log, by the
   * name they get there → the claim they come from.
   */
  runClaims: Readonly<Record<string, string>>;
  /** Signature algorithms the platform uses; tokens with any other are refused. */
  algorithms: readonly string[];
  /**
   * Claims whose condition narrows which runs of the subject are trusted (a branch, an environment, a
   * workflow), and what in the literal start of a `sub` pattern does the same. A policy with neither
   * trusts every branch, tag and pull-request run, and is created with a warning. Empty and null: the
   * platform has no such notion (Kubernetes).
   */
  runPinClaims: readonly string[];
  subjectRunPin: RegExp | null;
}

export const presets: Readonly<Record<PresetName, Preset>> = {
  'github-actions': {
    name: 'github-actions',
    issuer: 'https://token.actions.githubusercontent.com',
    claims: [
      'sub',
      'repository',
      'repository_owner',
      'ref',
      'workflow',
      'run_id',
      'run_attempt',
      'job_workflow_ref',
      'environment',
    ],
    repositoryClaim: 'repository',
    repositoryCompanions: [],
    // sub = repo:OWNER/REPO:environment:E | repo:OWNER/REPO:ref:R | repo:OWNER/REPO:pull_request …
    subjectPrefix: /^repo:[^/*:]+\/[^/*:]+:/,
    runClaims: {
      run_id: 'run_id',
      run_attempt: 'run_attempt',
      workflow: 'workflow',
      repository: 'repository',
      ref: 'ref',
      job_workflow_ref: 'job_workflow_ref',
      environment: 'environment',
    },
    algorithms: ['RS256'],
    runPinClaims: ['ref', 'environment', 'job_workflow_ref'],
    // repo:OWNER/REPO:ref:R, repo:OWNER/REPO:environment:E, or a custom template naming them.
    subjectRunPin: /:(ref|environment|job_workflow_ref):[^:*]/,
  },
  'gitlab-ci': {
    name: 'gitlab-ci',
    issuer: 'https://gitlab.com',
    claims: ['sub', 'project_path', 'namespace_path', 'ref', 'pipeline_id', 'job_id'],
    repositoryClaim: 'project_path',
    repositoryCompanions: [],
    // sub = project_path:GROUP/PROJECT:ref_type:branch:ref:main
    subjectPrefix: /^project_path:[^*:]+\/[^*:]+:/,
    runClaims: { pipeline_id: 'pipeline_id', job_id: 'job_id', project_path: 'project_path', ref: 'ref' },
    algorithms: ['RS256'],
    runPinClaims: ['ref', 'ref_protected', 'environment', 'environment_protected', 'ci_config_ref_uri'],
    subjectRunPin: /:ref:[^:*]/,
  },
  kubernetes: {
    name: 'kubernetes',
    issuer: null,
    claims: ['sub', 'kubernetes.io/namespace', 'kubernetes.io/serviceaccount/name', 'kubernetes.io/pod/name'],
    repositoryClaim: null,
    repositoryCompanions: [],
    // sub = system:serviceaccount:NAMESPACE:NAME — pinned only when exact.
    subjectPrefix: null,
    runClaims: {
      namespace: 'kubernetes.io/namespace',
      serviceaccount: 'kubernetes.io/serviceaccount/name',
      pod: 'kubernetes.io/pod/name',
    },
    // The API server signs with whatever key type the cluster was given.
    algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384'],
    runPinClaims: [],
    subjectRunPin: null,
  },
  buildkite: {
    name: 'buildkite',
    issuer: 'https://agent.buildkite.com',
    claims: ['sub', 'organization_slug', 'pipeline_slug', 'build_number', 'job_id'],
    // A pipeline slug is unique only within its organisation, and every organisation shares the issuer.
    repositoryClaim: 'pipeline_slug',
    repositoryCompanions: ['organization_slug'],
    // sub = organization:ORG:pipeline:PIPELINE:ref:REF:commit:SHA:step:KEY
    subjectPrefix: /^organization:[^*:]+:pipeline:[^*:]+:/,
    runClaims: {
      build_number: 'build_number',
      job_id: 'job_id',
      organization_slug: 'organization_slug',
      pipeline_slug: 'pipeline_slug',
    },
    algorithms: ['RS256', 'ES256'],
    runPinClaims: ['build_branch', 'build_tag'],
    subjectRunPin: /:ref:[^:*]/,
  },
};

export const presetNames = Object.keys(presets) as PresetName[];

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(presets, name);
}

/** The preset whose fixed issuer this is, if any (a policy for GitHub's issuer gets GitHub's rules). */
export function presetForIssuer(issuer: string): Preset | undefined {
  return Object.values(presets).find((p) => p.issuer === issuer);
}

/**
 * The value of a claim named by a condition: the top-level claim of that exact name, else the nested
 * value reached by splitting the name at `/`. Strings as they are; finite numbers and booleans as their
 * decimal/`true`/`false` text (Buildkite's `build_number` is a number); anything else is absent.
 */
export function claimValue(claims: Record<string, unknown>, name: string): string | undefined {
  let value: unknown;
  if (Object.hasOwn(claims, name)) {
    value = claims[name];
  } else {
    let current: unknown = claims;
    for (const part of name.split('/')) {
      if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
      if (!Object.hasOwn(current, part)) return undefined;
      current = (current as Record<string, unknown>)[part];
    }
    value = current;
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}
