/**
 * The posture report as SARIF 2.1.0 (OASIS), for code-scanning dashboards: one run whose driver lists
 * every rule (help text, references, default level, `security-severity`), and one result per finding,
 * located logically at the principal or key it concerns (there is no file to point at).
 */
import type { Finding, Severity } from './finding.js';
import { referenceNames } from './references.js';
import type { PostureReport } from './report.js';

export const SARIF_SCHEMA =
  'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

const levels: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
};

/** GitHub's 0.0–10.0 scale: ≥ 9 critical, ≥ 7 high, ≥ 4 medium, else low. */
const securitySeverity: Record<Severity, string> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
  info: '0.0',
};

/** The principal or key a finding names, as SARIF logical locations. */
function logicalLocations(finding: Finding): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  if (finding.key_id)
    out.push({ name: finding.key_id, fullyQualifiedName: `api_key:${finding.key_id}`, kind: 'resource' });
  if (finding.federation_id)
    out.push({
      name: finding.federation_id,
      fullyQualifiedName: `federation:${finding.federation_id}`,
      kind: 'resource',
    });
  if (finding.client_id)
    out.push({
      name: finding.client_id,
      fullyQualifiedName: `client:${finding.client_id}`,
      kind: 'resource',
    });
  if (finding.user)
    out.push({ name: finding.user, fullyQualifiedName: `user:${finding.user}`, kind: 'resource' });
  if (out.length === 0) out.push({ name: 'server', fullyQualifiedName: 'server', kind: 'resource' });
  return out;
}

export function postureSarif(report: PostureReport, tool: { version: string }): Record<string, unknown> {
  const ruleIndex = new Map(report.rules.map((rule, i) => [rule.id, i]));
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'clavis admin posture',
            version: tool.version,
            rules: report.rules.map((rule) => {
              const refs = rule.references.map((r) => `- ${r}: ${referenceNames[r] ?? r}`).join('\n');
              return {
                id: rule.id,
                name: rule.id,
                shortDescription: { text: rule.title },
                fullDescription: { text: rule.help },
                help: {
                  text: `${rule.help}\n\nReferences:\n${refs}`,
                  markdown: `${rule.help}\n\n**References**\n\n${refs}`,
                },
                defaultConfiguration: { level: levels[rule.severity] },
                properties: {
                  tags: ['security', ...rule.references],
                  'security-severity': securitySeverity[rule.severity],
                },
              };
            }),
          },
        },
        invocations: [{ executionSuccessful: true, endTimeUtc: new Date(report.generatedAt).toISOString() }],
        results: report.findings.map((finding) => ({
          ruleId: finding.id,
          ruleIndex: ruleIndex.get(finding.id) ?? -1,
          level: levels[finding.severity],
          message: { text: `${finding.detail}. Fix: ${finding.fix}` },
          locations: [{ logicalLocations: logicalLocations(finding) }],
          partialFingerprints: {
            'clavisFinding/v1': [
              finding.id,
              finding.key_id,
              finding.federation_id,
              finding.client_id,
              finding.user,
            ]
              .filter(Boolean)
              .join('|'),
          },
          properties: {
            severity: finding.severity,
            'security-severity': securitySeverity[finding.severity],
            references: finding.references,
            fix: finding.fix,
          },
        })),
        properties: { score: report.summary.score },
      },
    ],
  };
}
