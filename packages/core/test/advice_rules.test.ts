import { describe, expect, it } from 'vitest';
import {
  type AdviceInput,
  adviceRules,
  advise,
  ciFederationCommands,
  everyAdviceInput,
  forCiPlatform,
  ruleApplies,
} from '../src/guidance/advice_rules.js';
import { unknownFrameworkReferences } from '../src/guidance/frameworks.js';

const base: AdviceInput = {
  actor: 'human',
  browser: true,
  ci: false,
  kubernetes: false,
  multiUser: false,
  staticOnly: false,
};

/** One case per row: a situation the row is for, and what the advice must say. */
const rows: Array<{
  row: string;
  situation: Partial<AdviceInput>;
  credential: string;
  aal: string | null;
  says: RegExp[];
}> = [
  {
    row: 'person-at-terminal',
    situation: { actor: 'human' },
    credential: 'device_flow',
    aal: 'AAL2',
    says: [/SSH and on a headless machine/, /clavis login --server ISSUER/, /second factor/],
  },
  {
    row: 'people-sharing-a-cli',
    situation: { actor: 'human', multiUser: true },
    credential: 'device_flow',
    aal: 'AAL2',
    says: [/One login per person/, /indistinguishable in the audit log/, /OWASP-NHI9:2025/],
  },
  {
    row: 'person-without-browser',
    situation: { actor: 'human', browser: false },
    credential: 'api_key',
    aal: 'AAL1',
    says: [/--owner user:USERNAME/, /CLAVIS_API_KEY_COMMAND/, /No browser on any device/],
  },
  {
    row: 'person-cli-in-ci',
    situation: { actor: 'human', ci: true, browser: false },
    credential: 'client_credentials',
    aal: null,
    says: [
      /never a person's token in CI/,
      /federations create --client CLIENT_ID --preset github-actions/,
      /OWASP-NHI10:2025/,
    ],
  },
  {
    row: 'ci-job',
    situation: { actor: 'automation', ci: true, browser: false },
    credential: 'client_credentials',
    aal: null,
    says: [/no secret is stored/, /--claim ref=refs\/heads\/main/, /--max-ttl 10m/],
  },
  {
    row: 'kubernetes-workload',
    situation: { actor: 'service', kubernetes: true, browser: false },
    credential: 'client_credentials',
    aal: null,
    says: [/--preset kubernetes/, /sub=system:serviceaccount:NAMESPACE:NAME/, /projected/],
  },
  {
    row: 'service-with-key-pair',
    situation: { actor: 'service', browser: false },
    credential: 'client_credentials',
    aal: null,
    says: [/--auth-method private_key_jwt/, /no shared secret/, /CLAVIS_PRIVATE_KEY_FILE/],
  },
  {
    row: 'person-static-only',
    situation: { actor: 'human', staticOnly: true },
    credential: 'api_key',
    aal: 'AAL1',
    says: [/nothing but a static key/, /--owner user:USERNAME/],
  },
  {
    row: 'pipeline-static-only',
    situation: { actor: 'human', ci: true, staticOnly: true },
    credential: 'api_key',
    aal: null,
    says: [/never a person's key in CI/, /Per-job issuance/, /--owner CLIENT_ID/],
  },
  {
    row: 'workload-static-only',
    situation: { actor: 'automation', staticOnly: true, browser: false },
    credential: 'api_key',
    aal: null,
    says: [/neither the device flow nor client credentials/],
  },
];

/** What an API key needs, whoever holds it (the issue's list). */
const everyKeyControl = [
  /^Narrow scopes/,
  /^Mandatory expiry/,
  /^Rotation with overlap/,
  /^IP allow-list/,
  /^Use limits/,
  /^Vault-backed retrieval/,
  /^Secret scanning/,
  /^Automated revocation/,
];

describe('the advice table', () => {
  it.each(rows)('row $row: $credential', ({ row, situation, credential, aal, says }) => {
    const advice = advise({ ...base, ...situation });
    expect(advice.id).toBe(row);
    expect(advice.credential).toBe(credential);
    expect(advice.aal).toBe(aal);
    const text = JSON.stringify(advice);
    for (const pattern of says) expect(text).toMatch(pattern);
    expect(advice.reasons.length).toBeGreaterThan(0);
    expect(advice.controls.length).toBeGreaterThan(0);
    expect(advice.commands.length).toBeGreaterThan(0);
    if (credential === 'api_key')
      for (const control of everyKeyControl) expect(advice.controls.some((c) => control.test(c))).toBe(true);
  });

  it('has a case above for every row, and no row twice', () => {
    const ids = adviceRules.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(rows.map((r) => r.row).sort()).toEqual([...ids].sort());
  });

  it('gives every situation exactly one row: no gaps, no overlaps', () => {
    const situations = everyAdviceInput();
    expect(situations).toHaveLength(3 * 2 ** 5);
    for (const situation of situations) {
      const matching = adviceRules.filter((rule) => ruleApplies(rule, situation)).map((r) => r.id);
      expect({ situation, matching }).toEqual({ situation, matching: [expect.any(String)] });
    }
  });

  it('uses every row for some situation', () => {
    const used = new Set(everyAdviceInput().map((s) => advise(s).id));
    expect([...used].sort()).toEqual(adviceRules.map((r) => r.id).sort());
  });

  it('cites only references the catalogue has, and each row cites OWASP and NIST CSF 2.0', () => {
    for (const rule of adviceRules) {
      expect(unknownFrameworkReferences(rule.references), rule.id).toEqual([]);
      expect(new Set(rule.references).size, rule.id).toBe(rule.references.length);
      expect(
        rule.references.some((r) => r.startsWith('OWASP-NHI')),
        rule.id,
      ).toBe(true);
      expect(
        rule.references.some((r) => r.startsWith('NIST-CSF-2.0:')),
        rule.id,
      ).toBe(true);
      // A person's row states its assurance level and cites it; a workload's has none.
      if (rule.aal) expect(rule.references).toContain(`NIST-SP-800-63B:${rule.aal}`);
      else expect(rule.references.some((r) => r.startsWith('NIST-SP-800-63B:'))).toBe(false);
    }
  });

  it("never advises a person's credential inside CI", () => {
    for (const situation of everyAdviceInput().filter((s) => s.ci)) {
      const advice = advise(situation);
      expect(advice.credential).not.toBe('device_flow');
      expect(JSON.stringify(advice.commands)).not.toMatch(/user:USERNAME|clavis login/);
    }
  });

  it('advises device flow for a person who can approve anywhere, over SSH or headless alike', () => {
    for (const kubernetes of [false, true])
      expect(advise({ ...base, kubernetes }).credential).toBe('device_flow');
  });

  it('writes every setup command as a clavis command (placeholders in upper case)', () => {
    for (const rule of adviceRules)
      for (const { command, purpose } of rule.commands) {
        expect(command).toMatch(/^(CLAVIS_[A-Z_]+=\S+ )*clavis /);
        expect(purpose.length).toBeGreaterThan(5);
      }
  });

  it('shows the federation of the CI platform it runs on, when Clavis has a preset for it', () => {
    const job = advise({ ...base, actor: 'automation', ci: true });
    const commands = (platform: string | null) => forCiPlatform(job, platform).commands.map((c) => c.command);
    expect(commands('github-actions')).toEqual(job.commands.map((c) => c.command));
    expect(commands(null)).toEqual(job.commands.map((c) => c.command));
    expect(commands('jenkins')).toEqual(job.commands.map((c) => c.command));
    for (const preset of ['gitlab-ci', 'buildkite'] as const) {
      const shown = commands(preset);
      expect(shown).toContain(ciFederationCommands[preset].command);
      expect(shown.join('\n')).not.toContain('--preset github-actions');
      expect(shown).toHaveLength(job.commands.length);
    }
    // Advice without a CI federation is left as it is.
    const person = advise(base);
    expect(forCiPlatform(person, 'gitlab-ci')).toEqual(person);
  });
});
