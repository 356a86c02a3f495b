/**
 * The posture report as JSON: what `clavis admin posture --json` prints and `GET /admin/v1/posture`
 * answers (`postureJson`), and the report read back from it (`postureFromJson`), so that a report
 * fetched from a server renders as text, SARIF or HTML exactly as one computed on the database.
 */
import { formatDuration } from '@clavis/core';
import { type Finding, type PosturePolicy, type Severity, severities } from './finding.js';
import { ageBands, type CredentialKind, type PostureReport } from './report.js';
import { postureRules } from './rules/index.js';

export interface PostureJson {
  generated_at: string;
  policy: {
    rotation_age: string;
    unused: string;
    expiry_warning: string;
    stale_sign_in: string;
    window: string;
  };
  summary: {
    score: number;
    counts: Record<Severity, number>;
    credentials: Array<{ kind: CredentialKind; by_age: Record<string, number> }>;
  };
  findings: Finding[];
}

const asDuration = (ms: number) => formatDuration(Math.round(ms / 1000));

/** `findings` and `summary` in snake_case: `id`, `severity`, the principal/key, `references` are pinned. */
export function postureJson(report: PostureReport): PostureJson {
  return {
    generated_at: new Date(report.generatedAt).toISOString(),
    policy: {
      rotation_age: asDuration(report.policy.rotationAgeMs),
      unused: asDuration(report.policy.unusedMs),
      expiry_warning: asDuration(report.policy.expiryWarningMs),
      stale_sign_in: asDuration(report.policy.staleSignInMs),
      window: asDuration(report.policy.windowMs),
    },
    summary: {
      score: report.summary.score,
      counts: report.summary.counts,
      credentials: report.summary.credentials.map((c) => ({
        kind: c.kind,
        by_age: Object.fromEntries(ageBands.map((b, i) => [b.key, c.counts[i] ?? 0])),
      })),
    },
    findings: report.findings,
  };
}

/** The report `postureJson` was made from; `policy` is the one it was asked with (JSON rounds it). */
export function postureFromJson(json: PostureJson, policy: PosturePolicy): PostureReport {
  return {
    generatedAt: Date.parse(json.generated_at),
    policy,
    rules: postureRules,
    findings: json.findings,
    summary: {
      score: json.summary.score,
      counts: Object.fromEntries(severities.map((s) => [s, json.summary.counts[s] ?? 0])) as Record<
        Severity,
        number
      >,
      credentials: json.summary.credentials.map((c) => ({
        kind: c.kind,
        counts: ageBands.map((b) => c.by_age[b.key] ?? 0),
      })),
    },
  };
}
