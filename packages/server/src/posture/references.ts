/**
 * The framework references of every posture rule, in one place to audit: OWASP Non-Human Identities
 * Top 10 (2025) as `OWASP-NHIn:2025`, NIST CSF 2.0 as `NIST-CSF-2.0:ID`, NIST SP 800-63B as
 * `NIST-SP-800-63B:AALn`. The names each reference stands for are below, for the reports' help text.
 */
export const referenceNames: Readonly<Record<string, string>> = {
  'OWASP-NHI1:2025': 'OWASP NHI Top 10 2025, NHI1 Improper Offboarding',
  'OWASP-NHI2:2025': 'OWASP NHI Top 10 2025, NHI2 Secret Leakage',
  'OWASP-NHI4:2025': 'OWASP NHI Top 10 2025, NHI4 Insecure Authentication',
  'OWASP-NHI5:2025': 'OWASP NHI Top 10 2025, NHI5 Overprivileged NHI',
  'OWASP-NHI6:2025': 'OWASP NHI Top 10 2025, NHI6 Insecure Cloud Deployment Configurations',
  'OWASP-NHI7:2025': 'OWASP NHI Top 10 2025, NHI7 Long-Lived Secrets',
  'OWASP-NHI8:2025': 'OWASP NHI Top 10 2025, NHI8 Environment Isolation',
  'OWASP-NHI10:2025': 'OWASP NHI Top 10 2025, NHI10 Human Use of NHI',
  'NIST-CSF-2.0:PR.AA-01': 'NIST CSF 2.0 PR.AA-01: identities and credentials are managed',
  'NIST-CSF-2.0:PR.AA-03': 'NIST CSF 2.0 PR.AA-03: users, services and hardware are authenticated',
  'NIST-CSF-2.0:PR.AA-04': 'NIST CSF 2.0 PR.AA-04: identity assertions are protected, conveyed and verified',
  'NIST-CSF-2.0:PR.AA-05': 'NIST CSF 2.0 PR.AA-05: access permissions follow least privilege',
  'NIST-CSF-2.0:PR.PS-04': 'NIST CSF 2.0 PR.PS-04: log records are generated and available for monitoring',
  'NIST-CSF-2.0:RS.MI-01': 'NIST CSF 2.0 RS.MI-01: incidents are contained',
  'NIST-SP-800-63B:AAL2': 'NIST SP 800-63B AAL2: two distinct authentication factors',
};

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
} as const satisfies Record<string, readonly (keyof typeof referenceNames)[]>;

export type PostureRuleId = keyof typeof ruleReferences;
