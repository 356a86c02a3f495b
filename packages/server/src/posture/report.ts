/**
 * The posture report: the snapshot read once, every rule run over it, the findings sorted by severity,
 * and a summary — counts, a score, and the credentials by kind and age for the report's chart.
 *
 * Score: 100 minus 40 per critical finding, 15 per high, 5 per medium, 1 per low (info: 0), never below
 * 0. One critical finding alone leaves at most 60; a clean state is 100.
 */
import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import {
  type Finding,
  type PosturePolicy,
  type PostureRule,
  type Severity,
  severities,
  severityRank,
} from './finding.js';
import { postureRules } from './rules/index.js';
import type { AssertionAudienceMode } from './served_settings.js';
import { loadPostureSnapshot, type PostureSnapshot } from './snapshot.js';

export const severityWeights: Readonly<Record<Severity, number>> = {
  critical: 40,
  high: 15,
  medium: 5,
  low: 1,
  info: 0,
};

export const credentialKinds = ['api_key', 'client_secret', 'private_key_jwt', 'federation'] as const;
export type CredentialKind = (typeof credentialKinds)[number];

/** Age bands of the chart, by upper bound in days (the last is open): `key` for JSON, `label` for people. */
export const ageBands = [
  { key: 'under_7d', label: '< 7d', maxDays: 7 },
  { key: '7d_to_30d', label: '7-30d', maxDays: 30 },
  { key: '30d_to_90d', label: '30-90d', maxDays: 90 },
  { key: '90d_to_180d', label: '90-180d', maxDays: 180 },
  { key: 'over_180d', label: '> 180d', maxDays: Number.POSITIVE_INFINITY },
] as const;

export interface CredentialAges {
  kind: CredentialKind;
  /** How many live credentials of this kind fall in each of `ageBands`, in order. */
  counts: number[];
}

export interface PostureSummary {
  score: number;
  counts: Record<Severity, number>;
  credentials: CredentialAges[];
}

export interface PostureReport {
  generatedAt: number;
  policy: PosturePolicy;
  rules: readonly PostureRule[];
  findings: Finding[];
  summary: PostureSummary;
}

export function score(findings: readonly Finding[]): number {
  return Math.max(0, 100 - findings.reduce((sum, f) => sum + severityWeights[f.severity], 0));
}

/** Live credentials by kind, counted into the age bands. */
export function credentialAges(snapshot: PostureSnapshot, now: number): CredentialAges[] {
  const created: Record<CredentialKind, number[]> = {
    api_key: snapshot.apiKeys.map((k) => k.created_at),
    client_secret: snapshot.clientSecrets.map((s) => s.created_at),
    private_key_jwt: snapshot.clients
      .filter((c) => c.authMethod === 'private_key_jwt')
      .map((c) => c.createdAt),
    federation: snapshot.federations.map((f) => f.createdAt),
  };
  return credentialKinds.map((kind) => {
    const counts = ageBands.map(() => 0);
    for (const at of created[kind]) {
      const ageDays = Math.max(0, now - at) / 86_400_000;
      const band = ageBands.findIndex((b) => ageDays < b.maxDays);
      counts[band] = (counts[band] ?? 0) + 1;
    }
    return { kind, counts };
  });
}

/** Runs the rules over a snapshot: findings worst first, then by rule order. */
export function evaluatePosture(
  snapshot: PostureSnapshot,
  policy: PosturePolicy,
  now: number,
): PostureReport {
  const findings = postureRules
    .flatMap((rule) => rule.evaluate(snapshot, policy, now))
    .map((f, i) => ({ f, i }))
    .sort((a, b) => severityRank(b.f.severity) - severityRank(a.f.severity) || a.i - b.i)
    .map(({ f }) => f);
  const counts = Object.fromEntries(severities.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) counts[f.severity] += 1;
  return {
    generatedAt: now,
    policy,
    rules: postureRules,
    findings,
    summary: { score: score(findings), counts, credentials: credentialAges(snapshot, now) },
  };
}

export interface PostureDeps {
  db: Kysely<Database>;
  auditKey: KeyObject;
  clock: () => number;
}

/** Reads the live state and reports on it. */
export async function postureReport(
  deps: PostureDeps,
  policy: PosturePolicy,
  options: { assertionAudienceFallback?: AssertionAudienceMode | undefined } = {},
): Promise<PostureReport> {
  const now = deps.clock();
  const snapshot = await loadPostureSnapshot({
    db: deps.db,
    auditKey: deps.auditKey,
    now,
    windowMs: policy.windowMs,
    assertionAudienceFallback: options.assertionAudienceFallback,
  });
  return evaluatePosture(snapshot, policy, now);
}
