import { describe, expect, it } from 'vitest';
import {
  csf11Equivalents,
  frameworkReference,
  frameworkReferences,
  isFrameworkReference,
  unknownFrameworkReferences,
} from '../src/guidance/frameworks.js';

describe('the framework catalogue', () => {
  it('holds the OWASP Non-Human Identities Top 10 (2025), NHI1 to NHI10, with their titles', () => {
    const owasp = frameworkReferences.filter((r) => r.framework === 'OWASP-NHI');
    expect(owasp.map((r) => [r.id, r.title])).toEqual([
      ['OWASP-NHI1:2025', 'Improper Offboarding'],
      ['OWASP-NHI2:2025', 'Secret Leakage'],
      ['OWASP-NHI3:2025', 'Vulnerable Third-Party NHI'],
      ['OWASP-NHI4:2025', 'Insecure Authentication'],
      ['OWASP-NHI5:2025', 'Overprivileged NHI'],
      ['OWASP-NHI6:2025', 'Insecure Cloud Deployment Configurations'],
      ['OWASP-NHI7:2025', 'Long-Lived Secrets'],
      ['OWASP-NHI8:2025', 'Environment Isolation'],
      ['OWASP-NHI9:2025', 'NHI Reuse'],
      ['OWASP-NHI10:2025', 'Human Use of NHI'],
    ]);
    expect(frameworkReference('OWASP-NHI7:2025')?.url).toBe(
      'https://owasp.org/www-project-non-human-identities-top-10/2025/7-long-lived-secrets/',
    );
  });

  it('holds NIST CSF 2.0 PR.AA-01 to PR.AA-06 with their statements, and PR.PS-04 and RS.MI-01', () => {
    const csf = frameworkReferences.filter((r) => r.framework === 'NIST-CSF-2.0');
    expect(csf.map((r) => r.id)).toEqual([
      ...[1, 2, 3, 4, 5, 6].map((n) => `NIST-CSF-2.0:PR.AA-0${n}`),
      'NIST-CSF-2.0:PR.PS-04',
      'NIST-CSF-2.0:RS.MI-01',
    ]);
    expect(frameworkReference('NIST-CSF-2.0:RS.MI-01')?.statement).toBe('Incidents are contained.');
    expect(frameworkReference('NIST-CSF-2.0:PR.AA-05')?.statement).toMatch(
      /least privilege and separation of duties/,
    );
    expect(frameworkReference('NIST-CSF-2.0:PR.AA-03')?.statement).toBe(
      'Users, services, and hardware are authenticated.',
    );
  });

  it('holds NIST SP 800-63B AAL1 to AAL3 with the section of each', () => {
    const aal = frameworkReferences.filter((r) => r.framework === 'NIST-SP-800-63B');
    expect(aal.map((r) => [r.id, r.section])).toEqual([
      ['NIST-SP-800-63B:AAL1', 'SP 800-63B-4 §2.1 (Authentication Assurance Level 1)'],
      ['NIST-SP-800-63B:AAL2', 'SP 800-63B-4 §2.2 (Authentication Assurance Level 2)'],
      ['NIST-SP-800-63B:AAL3', 'SP 800-63B-4 §2.3 (Authentication Assurance Level 3)'],
    ]);
  });

  it('gives every reference a unique id in its framework format, a title, a statement and an https URL', () => {
    const ids = frameworkReferences.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const format: Record<string, RegExp> = {
      'OWASP-NHI': /^OWASP-NHI([1-9]|10):2025$/,
      'NIST-CSF-2.0': /^NIST-CSF-2\.0:(PR\.AA-0[1-6]|PR\.PS-04|RS\.MI-01)$/,
      'NIST-SP-800-63B': /^NIST-SP-800-63B:AAL[1-3]$/,
    };
    for (const r of frameworkReferences) {
      expect(r.id).toMatch(format[r.framework] as RegExp);
      expect(r.title.length).toBeGreaterThan(3);
      expect(r.statement.length).toBeGreaterThan(10);
      expect(new URL(r.url).protocol).toBe('https:');
    }
  });

  it('validates a reference string exactly: case, spelling, edition and range count', () => {
    for (const good of [
      'OWASP-NHI1:2025',
      'OWASP-NHI10:2025',
      'NIST-CSF-2.0:PR.AA-06',
      'NIST-SP-800-63B:AAL3',
    ])
      expect(isFrameworkReference(good)).toBe(true);
    for (const bad of [
      '',
      'OWASP-NHI11:2025',
      'OWASP-NHI0:2025',
      'OWASP-NHI7:2024',
      'owasp-nhi7:2025',
      'OWASP-NHI7',
      ' OWASP-NHI7:2025',
      'NIST-CSF-2.0:PR.AA-07',
      'NIST-CSF-2.0:PR.AA-5',
      'NIST-CSF-1.1:PR.AC-4',
      'NIST-SP-800-63B:AAL4',
      'NIST-SP-800-63B:aal2',
      'toString',
      '__proto__',
      'x'.repeat(10_000),
    ])
      expect(isFrameworkReference(bad)).toBe(false);
    expect(frameworkReference('constructor')).toBeUndefined();
  });

  it('lists the unknown references of a set, once each', () => {
    expect(unknownFrameworkReferences(['OWASP-NHI7:2025', 'NIST-CSF-2.0:PR.AA-05'])).toEqual([]);
    expect(
      unknownFrameworkReferences(['NIST-CSF-1.1:PR.AC-4', 'OWASP-NHI2:2025', 'NIST-CSF-1.1:PR.AC-4']),
    ).toEqual(['NIST-CSF-1.1:PR.AC-4']);
  });

  it("maps CSF 1.1's PR.AC-4 to CSF 2.0's PR.AA-05, a reference of the catalogue", () => {
    expect(csf11Equivalents['PR.AC-4']).toEqual(['NIST-CSF-2.0:PR.AA-05']);
    expect(unknownFrameworkReferences(Object.values(csf11Equivalents).flat())).toEqual([]);
  });
});
