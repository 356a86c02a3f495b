/**
 * What the posture report is made of: a finding (one thing out there that is further from the guidance
 * than it should be), the policy its thresholds come from, and the shape of a rule.
 */
import type { PostureSnapshot } from './snapshot.js';

export const severities = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof severities)[number];

/** Higher is worse: `critical` 4 … `info` 0. */
export function severityRank(severity: Severity): number {
  return severities.length - 1 - severities.indexOf(severity);
}

/** The principal or key a finding is about: at most one of each, snake_case as the CLI prints it. */
export interface FindingSubject {
  client_id?: string;
  user?: string;
  key_id?: string;
  federation_id?: string;
}

export interface Finding extends FindingSubject {
  /** The rule's stable id, e.g. `key-without-ip-allow-list`. */
  id: string;
  severity: Severity;
  title: string;
  detail: string;
  /** Framework references (`OWASP-NHI7:2025`, `NIST-CSF-2.0:PR.AA-05`, `NIST-SP-800-63B:AAL2`). */
  references: readonly string[];
  /** The clavis command that fixes it; words in CAPITALS are for the operator to fill in. */
  fix: string;
}

/** The thresholds, in milliseconds; the CLI's flags set them (`--rotation-age 90d`…). */
export interface PosturePolicy {
  /** A key or client secret older than this is due for rotation. */
  rotationAgeMs: number;
  /** A key or client not used for this long is a candidate for removal. */
  unusedMs: number;
  /** A key expiring within this is about to break whatever uses it. */
  expiryWarningMs: number;
  /** A person linked to an identity provider who has not signed in through it for this long is a finding. */
  staleSignInMs: number;
  /** How far back audit facts count: refreshes from CI runners, leak reports. */
  windowMs: number;
}

const DAY = 86_400_000;

export const defaultPolicy: PosturePolicy = {
  rotationAgeMs: 90 * DAY,
  unusedMs: 30 * DAY,
  expiryWarningMs: 7 * DAY,
  staleSignInMs: 90 * DAY,
  windowMs: 30 * DAY,
};

/** A rule: pure, from the snapshot read once, the policy and the time of the report. */
export interface PostureRule {
  id: string;
  /** The title of its findings, and the rule's short description in SARIF. */
  title: string;
  /** What it checks and why, for SARIF's help text and docs/posture.md. */
  help: string;
  /** The severity its findings usually have (some rules raise it case by case). */
  severity: Severity;
  references: readonly string[];
  evaluate(snapshot: PostureSnapshot, policy: PosturePolicy, now: number): Finding[];
}

/** Days, rounded down, for the text of a finding. */
export function days(ms: number): string {
  const n = Math.floor(ms / DAY);
  if (n === 0) return 'less than a day';
  return n === 1 ? '1 day' : `${n} days`;
}
