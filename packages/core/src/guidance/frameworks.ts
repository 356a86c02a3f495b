/**
 * The framework references Clavis cites (`clavis advise`, `clavis admin posture`): pure data, one entry
 * per reference string, each with its title, what it says and where to read it.
 *
 * Reference strings (DESIGN.md pins the first two shapes):
 * - `OWASP-NHI<n>:2025`: item n of the OWASP Non-Human Identities Top 10, 2025 edition.
 * - `NIST-CSF-2.0:PR.AA-0<n>`: a subcategory of the NIST Cybersecurity Framework 2.0, Protect →
 *   Identity Management, Authentication, and Access Control; two more CSF 2.0 subcategories the posture
 *   report cites (`PR.PS-04` logging, `RS.MI-01` containment). CSF 1.1's PR.AC-4 maps to PR.AA-05
 *   ({@link csf11Equivalents}).
 * - `NIST-SP-800-63B:AAL<n>`: an authentication assurance level of NIST SP 800-63B, Revision 4
 *   (SP 800-63B-4, 2025); `section` names where the level's requirements are set out.
 *
 * @example
 * ```ts
 * frameworkReference('OWASP-NHI7:2025')?.title; // 'Long-Lived Secrets'
 * isFrameworkReference('NIST-CSF-2.0:PR.AA-07'); // false
 * ```
 */

export type Framework = 'OWASP-NHI' | 'NIST-CSF-2.0' | 'NIST-SP-800-63B';

export interface FrameworkReference {
  /** The reference string, e.g. `OWASP-NHI7:2025`. */
  id: string;
  framework: Framework;
  /** The item's name in its framework. */
  title: string;
  /** What the item says, in a sentence. */
  statement: string;
  /** Where the item is published. */
  url: string;
  /** The section of the publication, where it helps to find the item. */
  section?: string;
}

const owaspBase = 'https://owasp.org/www-project-non-human-identities-top-10/2025/';

const owasp = (n: number, title: string, slug: string, statement: string): FrameworkReference => ({
  id: `OWASP-NHI${n}:2025`,
  framework: 'OWASP-NHI',
  title,
  statement,
  url: `${owaspBase}${n}-${slug}/`,
});

const csfUrl = 'https://nvlpubs.nist.gov/nistpubs/CSWP/NIST.CSWP.29.pdf';

const csf = (n: number, title: string, statement: string): FrameworkReference => ({
  id: `NIST-CSF-2.0:PR.AA-0${n}`,
  framework: 'NIST-CSF-2.0',
  title,
  statement,
  url: csfUrl,
  section: 'Protect (PR): Identity Management, Authentication, and Access Control (PR.AA)',
});

/** A CSF 2.0 subcategory outside PR.AA, cited where a finding is about logging or response. */
const csfOther = (id: string, title: string, statement: string, section: string): FrameworkReference => ({
  id: `NIST-CSF-2.0:${id}`,
  framework: 'NIST-CSF-2.0',
  title,
  statement,
  url: csfUrl,
  section,
});

const sp80063bUrl = 'https://pages.nist.gov/800-63-4/sp800-63b.html';

const aal = (n: number, title: string, statement: string): FrameworkReference => ({
  id: `NIST-SP-800-63B:AAL${n}`,
  framework: 'NIST-SP-800-63B',
  title,
  statement,
  url: sp80063bUrl,
  section: `SP 800-63B-4 §2.${n} (Authentication Assurance Level ${n})`,
});

/** Every reference Clavis may cite, in framework order. */
export const frameworkReferences: readonly FrameworkReference[] = [
  owasp(
    1,
    'Improper Offboarding',
    'improper-offboarding',
    'Non-human identities and their credentials left active after the service, job or owner they served is gone.',
  ),
  owasp(
    2,
    'Secret Leakage',
    'secret-leakage',
    'Keys, tokens and other secrets exposed in code, configuration, logs or chat, where anyone who finds them can use them.',
  ),
  owasp(
    3,
    'Vulnerable Third-Party NHI',
    'vulnerable-third-party-nhi',
    'Credentials held by third-party tools and integrations, compromised through them.',
  ),
  owasp(
    4,
    'Insecure Authentication',
    'insecure-authentication',
    'Weak, deprecated or misused authentication of non-human identities (shared secrets, implicit flows, no proof of possession).',
  ),
  owasp(
    5,
    'Overprivileged NHI',
    'overprivileged-nhi',
    'Non-human identities granted more permissions than their task needs.',
  ),
  owasp(
    6,
    'Insecure Cloud Deployment Configurations',
    'insecure-cloud-deployment-configurations',
    'CI/CD and cloud deployments authenticating with static credentials, or trusting workload tokens too broadly.',
  ),
  owasp(
    7,
    'Long-Lived Secrets',
    'long-lived-secrets',
    'Secrets with no or far-off expiry and no rotation, which stay useful to whoever obtains them.',
  ),
  owasp(
    8,
    'Environment Isolation',
    'environment-isolation',
    'The same identities and credentials reused across development, test and production.',
  ),
  owasp(
    9,
    'NHI Reuse',
    'nhi-reuse',
    'One identity or credential shared by several workloads or people, blurring attribution and widening a breach.',
  ),
  owasp(
    10,
    'Human Use of NHI',
    'human-use-of-nhi',
    "People acting through a service's identity (or a service through a person's), escaping the controls and the audit meant for each.",
  ),
  csf(
    1,
    'Identities and credentials are managed',
    'Identities and credentials for authorized users, services, and hardware are managed by the organization.',
  ),
  csf(
    2,
    'Identities are proofed and bound to credentials',
    'Identities are proofed and bound to credentials based on the context of interactions.',
  ),
  csf(
    3,
    'Users, services, and hardware are authenticated',
    'Users, services, and hardware are authenticated.',
  ),
  csf(4, 'Identity assertions are protected', 'Identity assertions are protected, conveyed, and verified.'),
  csf(
    5,
    'Access permissions are managed with least privilege',
    'Access permissions, entitlements, and authorizations are defined in a policy, managed, enforced, and reviewed, and incorporate the principles of least privilege and separation of duties.',
  ),
  csf(
    6,
    'Physical access is managed',
    'Physical access to assets is managed, monitored, and enforced commensurate with risk.',
  ),
  csfOther(
    'PR.PS-04',
    'Log records are generated and made available',
    'Log records are generated and made available for continuous monitoring.',
    'Protect (PR): Platform Security (PR.PS)',
  ),
  csfOther(
    'RS.MI-01',
    'Incidents are contained',
    'Incidents are contained.',
    'Respond (RS): Incident Mitigation (RS.MI)',
  ),
  aal(
    1,
    'Authentication Assurance Level 1',
    'Some assurance that the claimant controls an authenticator bound to the account: single-factor authentication is allowed.',
  ),
  aal(
    2,
    'Authentication Assurance Level 2',
    'High confidence that the claimant controls the authenticators: two distinct authentication factors, through approved cryptography, resistant to replay.',
  ),
  aal(
    3,
    'Authentication Assurance Level 3',
    'Very high confidence: a hardware-based, phishing-resistant, non-exportable cryptographic authenticator, plus a second factor.',
  ),
];

const byId = new Map(frameworkReferences.map((reference) => [reference.id, reference]));

/**
 * The catalogue entry of a reference string, or `undefined` when the catalogue has no such reference.
 *
 * @example
 * ```ts
 * frameworkReference('NIST-CSF-2.0:PR.AA-05')?.url;
 * ```
 */
export function frameworkReference(id: string): FrameworkReference | undefined {
  return byId.get(id);
}

/**
 * Whether `id` is a reference string of the catalogue (exactly: case and spelling count).
 *
 * @example
 * ```ts
 * isFrameworkReference('OWASP-NHI10:2025'); // true
 * isFrameworkReference('OWASP-NHI11:2025'); // false
 * ```
 */
export function isFrameworkReference(id: string): boolean {
  return byId.has(id);
}

/**
 * The references of `ids` that the catalogue does not have: empty when every one is known. A rule table
 * or a posture finding checks its references with it in a test.
 *
 * @example
 * ```ts
 * unknownFrameworkReferences(['OWASP-NHI7:2025', 'NIST-CSF-1.1:PR.AC-4']); // ['NIST-CSF-1.1:PR.AC-4']
 * ```
 */
export function unknownFrameworkReferences(ids: Iterable<string>): string[] {
  return [...new Set(ids)].filter((id) => !byId.has(id));
}

/**
 * NIST CSF 1.1 subcategories that people still cite, and the CSF 2.0 references that replace them.
 *
 * @example
 * ```ts
 * csf11Equivalents['PR.AC-4']; // ['NIST-CSF-2.0:PR.AA-05']
 * ```
 */
export const csf11Equivalents: Readonly<Record<string, readonly string[]>> = {
  'PR.AC-4': ['NIST-CSF-2.0:PR.AA-05'],
};
