/**
 * The framework references of every posture rule, in one place to audit: OWASP Non-Human Identities
 * Top 10 (2025) as `OWASP-NHIn:2025`, NIST CSF 2.0 as `NIST-CSF-2.0:ID`, NIST SP 800-63B as
 * `NIST-SP-800-63B:AALn`, each one of the framework catalogue in `@clavis/core` (whose titles name them
 * in the reports' help text).
 */
import { frameworkReference } from '@clavis/core';

/** The references the rules below cite. */
const cited = [
  'OWASP-NHI1:2025',
  'OWASP-NHI2:2025',
  'OWASP-NHI4:2025',
  'OWASP-NHI5:2025',
  'OWASP-NHI6:2025',
  'OWASP-NHI7:2025',
  'OWASP-NHI8:2025',
  'OWASP-NHI10:2025',
  'NIST-CSF-2.0:PR.AA-01',
  'NIST-CSF-2.0:PR.AA-03',
  'NIST-CSF-2.0:PR.AA-04',
  'NIST-CSF-2.0:PR.AA-05',
  'NIST-CSF-2.0:PR.PS-04',
  'NIST-CSF-2.0:RS.MI-01',
  'NIST-SP-800-63B:AAL2',
] as const;

/** A reference's name in the reports' help text, from the one catalogue in `@clavis/core`. */
function referenceName(id: string): string {
  const entry = frameworkReference(id);
  if (!entry) throw new Error(`posture cites ${id}, which the framework catalogue does not have`);
  const [, item] = id.split(':') as [string, string];
  if (entry.framework === 'OWASP-NHI')
    return `OWASP NHI Top 10 2025, ${id.slice(6, id.indexOf(':'))} ${entry.title}`;
  if (entry.framework === 'NIST-CSF-2.0') return `NIST CSF 2.0 ${item}: ${entry.title}`;
  return `NIST SP 800-63B ${item}: ${entry.title}`;
}

export const referenceNames: Readonly<Record<string, string>> = Object.fromEntries(
  cited.map((id) => [id, referenceName(id)]),
);

/** Each rule id → its references. */
export const ruleReferences = {
  'api-key-unused': ['OWASP-NHI1:2025', 'NIST-CSF-2.0:PR.AA-01'],
  'api-key-near-expiry': ['OWASP-NHI7:2025', 'NIST-CSF-2.0:PR.AA-01'],
  'key-without-ip-allow-list': ['OWASP-NHI2:2025', 'OWASP-NHI8:2025', 'NIST-CSF-2.0:PR.AA-03'],
  'api-key-broad-scopes': ['OWASP-NHI5:2025', 'NIST-CSF-2.0:PR.AA-05'],
  'api-key-past-rotation-age': ['OWASP-NHI7:2025', 'NIST-CSF-2.0:PR.AA-01'],
  'shared-secret-service-principal': ['OWASP-NHI7:2025', 'OWASP-NHI4:2025', 'NIST-CSF-2.0:PR.AA-03'],
  'client-secret-past-rotation-age': ['OWASP-NHI7:2025', 'NIST-CSF-2.0:PR.AA-01'],
  'person-token-refreshed-in-ci': ['OWASP-NHI10:2025', 'NIST-CSF-2.0:PR.AA-03', 'NIST-SP-800-63B:AAL2'],
  'principal-without-owner': ['OWASP-NHI1:2025', 'NIST-CSF-2.0:PR.AA-01'],
  'client-unused': ['OWASP-NHI1:2025', 'NIST-CSF-2.0:PR.AA-01'],
  'federation-org-wide': ['OWASP-NHI5:2025', 'OWASP-NHI6:2025', 'NIST-CSF-2.0:PR.AA-05'],
  'federation-without-ref': ['OWASP-NHI6:2025', 'OWASP-NHI8:2025', 'NIST-CSF-2.0:PR.AA-05'],
  'assertion-audience-permissive': ['OWASP-NHI4:2025', 'NIST-CSF-2.0:PR.AA-04'],
  'audit-chain-broken': ['NIST-CSF-2.0:PR.PS-04'],
  'api-key-leaked': ['OWASP-NHI2:2025', 'NIST-CSF-2.0:RS.MI-01'],
  'admin-without-mfa': ['NIST-SP-800-63B:AAL2', 'NIST-CSF-2.0:PR.AA-03'],
  // A person, not a non-human identity: the OWASP NHI list does not apply; PR.AA-01 is identities and
  // credentials managed (and so removed) through their life.
  'idp-linked-person-stale': ['NIST-CSF-2.0:PR.AA-01'],
} as const satisfies Record<string, readonly (typeof cited)[number][]>;

export type PostureRuleId = keyof typeof ruleReferences;
