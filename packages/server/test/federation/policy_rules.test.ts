/**
 * The trust-policy rules on their own (no database): claim-pattern globbing, what pins a subject for
 * each preset (TE-03 and the "whole organisation" rule), claim paths, and JWKS checks.
 */
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import { describe, expect, it } from 'vitest';
import { globMatches } from '../../src/federation/glob.js';
import {
  checkConditions,
  checkFetchableUrl,
  checkIssuer,
  checkJwks,
  parseCondition,
  runPinWarnings,
} from '../../src/federation/policy.js';
import { claimValue, presets } from '../../src/federation/presets.js';

const gh = presets['github-actions'];
const gl = presets['gitlab-ci'];
const bk = presets.buildkite;
const k8s = presets.kubernetes;
const c = (claim: string, pattern: string) => ({ claim, pattern });

describe('globMatches', () => {
  it.each([
    ['acme/app', 'acme/app', true],
    ['acme/app', 'acme/apps', false],
    ['acme/app', 'xacme/app', false],
    ['acme/*', 'acme/app', true],
    ['acme/*', 'acme/', true],
    ['acme/*', 'acme', false],
    ['acme/*', 'acme/team/app', true],
    ['*', '', true],
    ['refs/heads/*', 'refs/heads/main', true],
    ['refs/heads/*', 'refs/tags/v1', false],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['a.b', 'aXb', false],
    ['a?b', 'aXb', false],
    ['a[b]', 'a[b]', true],
    ['^acme$', '^acme$', true],
    ['(a+)+', 'aaaa', false],
  ])('%s against %s → %s', (pattern, value, expected) => {
    expect(globMatches(pattern, value)).toBe(expected);
  });

  it('is linear on adversarial input (no catastrophic backtracking)', () => {
    const pattern = `${'*a'.repeat(8)}*b`;
    const value = 'a'.repeat(4000);
    expect(globMatches(pattern, value)).toBe(false);
  });
});

describe('which conditions pin a subject', () => {
  it.each([
    ['GitHub exact sub', gh, [c('sub', 'repo:acme/app:ref:refs/heads/main')]],
    ['GitHub sub glob after the repository', gh, [c('sub', 'repo:acme/app:*')]],
    ['GitHub sub glob on the environment', gh, [c('sub', 'repo:acme/app:environment:prod-*')]],
    ['GitHub repository', gh, [c('repository', 'acme/app')]],
    ['GitLab project_path', gl, [c('project_path', 'acme/platform/app')]],
    ['GitLab sub glob after the project', gl, [c('sub', 'project_path:acme/app:*')]],
    ['Kubernetes exact sub', k8s, [c('sub', 'system:serviceaccount:prod:deployer')]],
    ['Buildkite org + pipeline', bk, [c('organization_slug', 'acme'), c('pipeline_slug', 'deploy')]],
    ['Buildkite sub glob after the pipeline', bk, [c('sub', 'organization:acme:pipeline:deploy:*')]],
    ['no preset, exact sub', undefined, [c('sub', 'workload-1')]],
  ])('accepted: %s', (_label, preset, conditions) => {
    expect(checkConditions(conditions, preset)).toEqual(conditions);
  });

  it.each([
    ['no condition at all', gh, []],
    ['only the owner', gh, [c('repository_owner', 'acme')]],
    ['only the ref', gh, [c('ref', 'refs/heads/main')]],
    ['TE-03 sub repo:acme/*', gh, [c('sub', 'repo:acme/*')]],
    ['sub repo:*', gh, [c('sub', 'repo:*')]],
    ['sub *', gh, [c('sub', '*')]],
    ['sub repo:acme/app* (would match acme/app-evil)', gh, [c('sub', 'repo:acme/app*')]],
    ['sub glob even beside a repository pin', gh, [c('repository', 'acme/app'), c('sub', 'repo:*')]],
    ['repository *', gh, [c('repository', '*')]],
    ['repository acme* (acme-evil/…)', gh, [c('repository', 'acme*')]],
    ['GitLab project_path acme*', gl, [c('project_path', 'acme*')]],
    ['GitLab sub project_path:acme/*', gl, [c('sub', 'project_path:acme/*')]],
    ['Kubernetes sub wildcard', k8s, [c('sub', 'system:serviceaccount:prod:*')]],
    ['Kubernetes namespace only', k8s, [c('kubernetes.io/namespace', 'prod')]],
    ['Buildkite pipeline without org (every org shares the issuer)', bk, [c('pipeline_slug', 'deploy')]],
    ['Buildkite pipeline glob', bk, [c('organization_slug', 'acme'), c('pipeline_slug', '*')]],
    ['no preset, sub glob', undefined, [c('sub', 'workload-*')]],
    ['no preset, repository (meaning unknown)', undefined, [c('repository', 'acme/app')]],
  ])('refused: %s', (_label, preset, conditions) => {
    expect(() => checkConditions(conditions, preset)).toThrow();
  });

  it.each([
    ['GitHub repository acme/* (every repository of acme)', gh, [c('repository', 'acme/*')]],
    ['GitHub repository acme/app-* (any repository a member names so)', gh, [c('repository', 'acme/app-*')]],
    ['GitLab project_path group/* (every subgroup too)', gl, [c('project_path', 'acme/*')]],
    ['GitHub repository acme/* beside a ref', gh, [c('repository', 'acme/*'), c('ref', 'refs/heads/main')]],
  ])('organisation-wide, refused unless allowed: %s', (_label, preset, conditions) => {
    expect(() => checkConditions(conditions, preset)).toThrow(/allow-org-wide/);
    expect(checkConditions(conditions, preset, { allowOrgWide: true })).toEqual(conditions);
  });

  it('a repository glob beside a sub that pins the repository needs no opt-in', () => {
    const conditions = [c('sub', 'repo:acme/app:ref:refs/heads/main'), c('repository', 'acme/*')];
    expect(checkConditions(conditions, gh)).toEqual(conditions);
  });

  it('allowing org-wide globs does not let a pattern leave the owner open', () => {
    expect(() => checkConditions([c('repository', 'acme*')], gh, { allowOrgWide: true })).toThrow(/owner/);
    expect(() => checkConditions([c('sub', 'repo:acme/*')], gh, { allowOrgWide: true })).toThrow(
      /sub pattern/,
    );
  });

  it.each([
    ['GitHub ref', gh, [c('repository', 'acme/app'), c('ref', 'refs/heads/main')]],
    ['GitHub environment', gh, [c('repository', 'acme/app'), c('environment', 'prod')]],
    [
      'GitHub job_workflow_ref',
      gh,
      [
        c('repository', 'acme/app'),
        c('job_workflow_ref', 'acme/wf/.github/workflows/deploy.yml@refs/heads/main'),
      ],
    ],
    ['GitHub ref glob', gh, [c('repository', 'acme/app'), c('ref', 'refs/tags/v*')]],
    ['GitHub sub with a ref', gh, [c('sub', 'repo:acme/app:ref:refs/heads/main')]],
    ['GitHub sub with an environment', gh, [c('sub', 'repo:acme/app:environment:prod')]],
    ['GitLab ref', gl, [c('project_path', 'acme/app'), c('ref', 'main')]],
    ['GitLab protected refs', gl, [c('project_path', 'acme/app'), c('ref_protected', 'true')]],
    ['GitLab sub with a ref', gl, [c('sub', 'project_path:acme/app:ref_type:branch:ref:main')]],
    [
      'Buildkite branch',
      bk,
      [c('organization_slug', 'acme'), c('pipeline_slug', 'deploy'), c('build_branch', 'main')],
    ],
    ['Kubernetes (no runs to pin)', k8s, [c('sub', 'system:serviceaccount:prod:deployer')]],
    ['no preset', undefined, [c('sub', 'workload-1')]],
  ])('no warning: %s', (_label, preset, conditions) => {
    expect(runPinWarnings(conditions, preset)).toEqual([]);
  });

  it.each([
    ['GitHub repository only', gh, [c('repository', 'acme/app')], /ref, environment, job_workflow_ref/],
    ['GitHub ref = *', gh, [c('repository', 'acme/app'), c('ref', '*')], /ref/],
    ['GitHub sub glob after the repository', gh, [c('sub', 'repo:acme/app:*')], /ref/],
    ['GitHub sub for pull requests', gh, [c('sub', 'repo:acme/app:pull_request')], /ref/],
    ['GitHub sub ref:*', gh, [c('sub', 'repo:acme/app:ref:*')], /ref/],
    ['GitLab project_path only', gl, [c('project_path', 'acme/app')], /ref/],
    [
      'Buildkite org + pipeline only',
      bk,
      [c('organization_slug', 'acme'), c('pipeline_slug', 'deploy')],
      /build_branch/,
    ],
  ])('one warning: %s', (_label, preset, conditions, message) => {
    const warnings = runPinWarnings(conditions, preset);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(message);
  });

  it.each([
    ['two conditions on one claim', [c('sub', 'a'), c('sub', 'b')]],
    ['an empty pattern', [c('sub', '')]],
    ['an overlong pattern', [c('sub', 'x'.repeat(257))]],
    ['a control character', [c('sub', 'a\nb')]],
    ['a bad claim name', [c('sub;drop', 'x')]],
    ['too many wildcards', [c('sub', 'a'), c('ref', '*'.repeat(9))]],
    ['too many conditions', Array.from({ length: 17 }, (_, i) => c(i === 0 ? 'sub' : `c${i}`, 'x'))],
  ])('malformed: %s', (_label, conditions) => {
    expect(() => checkConditions(conditions, undefined)).toThrow();
  });

  it('parses claim=pattern at the first =', () => {
    expect(parseCondition('ref=refs/heads/a=b')).toEqual(c('ref', 'refs/heads/a=b'));
    expect(() => parseCondition('=x')).toThrow();
    expect(() => parseCondition('novalue')).toThrow();
  });
});

describe('claim values', () => {
  const claims = {
    sub: 'x',
    build_number: 42,
    flag: true,
    list: ['a'],
    'kubernetes.io': { namespace: 'prod', serviceaccount: { name: 'deployer' } },
    'literal/slash': 'top',
  };
  it.each([
    ['sub', 'x'],
    ['build_number', '42'],
    ['flag', 'true'],
    ['list', undefined],
    ['kubernetes.io/namespace', 'prod'],
    ['kubernetes.io/serviceaccount/name', 'deployer'],
    ['kubernetes.io/serviceaccount', undefined],
    ['literal/slash', 'top'],
    ['missing', undefined],
    ['__proto__', undefined],
    ['constructor', undefined],
  ])('%s → %s', (name, expected) => {
    expect(claimValue(claims, name)).toBe(expected);
  });
});

describe('issuer and key URLs', () => {
  it.each([
    'https://token.actions.githubusercontent.com',
    'http://127.0.0.1:8080',
    'http://localhost:9000/issuer',
    'http://[::1]:7000',
  ])('accepted: %s', (url) => {
    expect(checkIssuer(url)).toBe(url);
  });

  it.each([
    'http://ci.example.com',
    'http://10.0.0.1',
    'http://127.0.0.1.nip.io',
    'http://ci.localhost',
    'ftp://example.com',
    'https://user:pass@example.com', // secretlint-disable-line
    'https://example.com/?q=1',
    'https://example.com/#f',
    'not a url',
    `https://example.com/${'x'.repeat(3000)}`,
  ])('refused: %s', (url) => {
    expect(() => checkIssuer(url)).toThrow();
  });

  it('http jwks_uri only on loopback', () => {
    expect(() => checkFetchableUrl('jwks_uri', 'http://keys.example.com/jwks')).toThrow(/https/);
    expect(checkFetchableUrl('jwks_uri', 'http://127.0.0.1:1/jwks').host).toBe('127.0.0.1:1');
  });
});

describe('inline JWKS', () => {
  it('public asymmetric keys are accepted; private or symmetric keys are refused', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const pub = await exportJWK(publicKey);
    await expect(checkJwks({ keys: [pub] })).resolves.toEqual({ keys: [pub] });
    await expect(checkJwks({ keys: [await exportJWK(privateKey)] })).rejects.toThrow(/private/);
    const secret = await exportJWK(await generateSecret('HS256', { extractable: true }));
    await expect(checkJwks({ keys: [secret] })).rejects.toThrow();
    await expect(checkJwks({ keys: [{ ...pub, alg: 'HS256' }] })).rejects.toThrow(/not allowed/);
    await expect(checkJwks({ keys: [] })).rejects.toThrow();
    await expect(checkJwks([pub])).rejects.toThrow();
    await expect(checkJwks({ keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB' }] })).rejects.toThrow();
  });
});
