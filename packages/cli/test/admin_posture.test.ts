/**
 * `clavis admin posture` on a real SQLite database set up with the CLI's own admin commands: the text
 * report grouped by severity with each fix, `--json` with the pinned names, SARIF 2.1.0 valid against
 * a schema of the standard's required structure (fixtures/sarif), `--fail-on` as a CI gate (exit 1), the fix commands it prints run as printed, and bad
 * flags refused with one line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPosture } from '../src/commands/admin/posture_run.js';
import { adminOpener } from '../src/commands/admin/session.js';
import { initDatabase, runCli, type Scratch, scratch, TextSink } from './support/cli.js';

interface JsonFinding {
  id: string;
  severity: string;
  client_id?: string;
  key_id?: string;
  user?: string;
  references: string[];
  fix: string;
}
interface JsonReport {
  findings: JsonFinding[];
  summary: {
    score: number;
    counts: Record<string, number>;
    credentials: { kind: string; by_age: Record<string, number> }[];
  };
  policy: Record<string, string>;
}

describe('admin posture', () => {
  let tmp: Scratch;
  let svc: string;
  let keyId: string;
  const admin = (...args: string[]) => runCli(['admin', '--db', tmp.dbUrl, ...args]);
  const json = async (...args: string[]): Promise<JsonReport> => {
    const res = await admin('posture', '--json', ...args);
    expect(res.stderr).toBe('');
    return JSON.parse(res.stdout) as JsonReport;
  };

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    const client = await admin(
      'clients',
      'create',
      '--name',
      'deployer',
      '--kind',
      'confidential',
      '--grant',
      'client_credentials',
      '--scope',
      'read',
      '--scope',
      'admin',
      '--json',
    );
    expect(client.code, client.stderr).toBe(0);
    svc = (JSON.parse(client.stdout) as { client_id: string }).client_id;
    const key = await admin(
      'keys',
      'create',
      '--owner',
      svc,
      '--scope',
      'read',
      '--scope',
      'admin',
      '--ttl',
      '30d',
      '--json',
    );
    expect(key.code, key.stderr).toBe(0);
    keyId = (JSON.parse(key.stdout) as { id: string }).id;
  });
  afterAll(() => tmp.remove());

  it('prints the findings grouped by severity, each with its fix and references', async () => {
    const res = await admin('posture');
    expect(res.code, res.stderr).toBe(0);
    const out = res.stdout;
    expect(out).toMatch(/^posture score \d+\/100: 1 high, 2 medium, 2 low\n/);
    expect(out.indexOf('HIGH (1)')).toBeLessThan(out.indexOf('MEDIUM (2)'));
    expect(out.indexOf('MEDIUM (2)')).toBeLessThan(out.indexOf('LOW (2)'));
    expect(out).toContain(`  api-key-broad-scopes: key ${keyId} of ${svc} carries admin\n`);
    expect(out).toContain(`    fix: clavis admin keys update ${keyId} --scope read\n`);
    expect(out).toContain('    references: OWASP-NHI5:2025, NIST-CSF-2.0:PR.AA-05\n');
  });

  it('--json: findings with id, severity, the principal or key, references and fix; a summary', async () => {
    const report = await json();
    expect(report.findings.map((f) => [f.id, f.severity])).toEqual([
      ['api-key-broad-scopes', 'high'],
      ['shared-secret-service-principal', 'medium'],
      ['key-without-ip-allow-list', 'medium'],
      ['principal-without-owner', 'low'],
      ['assertion-audience-permissive', 'low'],
    ]);
    expect(report.findings[0]).toMatchObject({
      key_id: keyId,
      references: ['OWASP-NHI5:2025', 'NIST-CSF-2.0:PR.AA-05'],
    });
    expect(report.findings[1]).toMatchObject({ client_id: svc });
    expect(report.summary).toMatchObject({
      score: 100 - 15 - 5 - 5 - 1 - 1,
      counts: { critical: 0, high: 1, medium: 2, low: 2, info: 0 },
    });
    expect(report.summary.credentials[0]).toEqual({
      kind: 'api_key',
      by_age: { under_7d: 1, '7d_to_30d': 0, '30d_to_90d': 0, '90d_to_180d': 0, over_180d: 0 },
    });
    expect(report.policy).toEqual({
      rotation_age: '90d',
      unused: '30d',
      expiry_warning: '7d',
      stale_sign_in: '90d',
      window: '30d',
    });
  });

  it('the policy flags take durations as the CLI writes them', async () => {
    const report = await json(
      '--rotation-age',
      '90s',
      '--unused',
      '12h',
      '--expiry-warning',
      '45d',
      '--stale-sign-in',
      '60d',
      '--window',
      '1d',
    );
    expect(report.policy).toEqual({
      rotation_age: '90s',
      unused: '12h',
      expiry_warning: '45d',
      stale_sign_in: '60d',
      window: '1d',
    });
    expect(report.findings.map((f) => f.id)).toContain('api-key-near-expiry');
  });

  it('the thresholds decide, on the clock of the run (40 days on)', async () => {
    const stdout = new TextSink();
    const later = () => Date.now() + 40 * 86_400_000;
    await runPosture(
      { db: tmp.dbUrl, json: true, rotationAge: 30 * 86_400, unused: 30 * 86_400 },
      {
        stdout,
        stderr: new TextSink(),
        stdin: Readable.from(['']),
        env: {},
        openAdmin: adminOpener({}, later),
      },
    );
    const ids = (JSON.parse(stdout.text) as JsonReport).findings.map((f) => f.id);
    // The 30-day key has expired by then: only the principal's own findings age.
    expect(ids).toEqual(expect.arrayContaining(['client-secret-past-rotation-age', 'client-unused']));
    expect(ids).not.toContain('api-key-broad-scopes');
  });

  it('CLAVIS_ASSERTION_AUDIENCE of the reader stands in for a server that never recorded its mode', async () => {
    const res = await runCli(['admin', '--db', tmp.dbUrl, 'posture', '--json'], {
      env: { CLAVIS_ASSERTION_AUDIENCE: 'issuer' },
    });
    expect((JSON.parse(res.stdout) as JsonReport).findings.map((f) => f.id)).not.toContain(
      'assertion-audience-permissive',
    );
    const bad = await runCli(['admin', '--db', tmp.dbUrl, 'posture'], {
      env: { CLAVIS_ASSERTION_AUDIENCE: 'anything' },
    });
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toBe('clavis: CLAVIS_ASSERTION_AUDIENCE must be issuer or issuer-or-token-endpoint\n');
  });

  it('--sarif is valid SARIF 2.1.0: rules with help and references, results located at the principal or key', async () => {
    const res = await admin('posture', '--sarif');
    expect(res.code, res.stderr).toBe(0);
    const sarif = JSON.parse(res.stdout) as {
      version: string;
      runs: {
        tool: { driver: { rules: { id: string; help: { text: string } }[] } };
        results: {
          ruleId: string;
          level: string;
          locations: { logicalLocations: { fullyQualifiedName: string }[] }[];
        }[];
      }[];
    };
    const schema = JSON.parse(
      readFileSync(join(import.meta.dirname, 'fixtures/sarif/sarif-2.1.0-subset.schema.json'), 'utf8'),
    ) as object;
    const ajv = new Ajv.default({ allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    expect(validate(sarif), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(sarif.version).toBe('2.1.0');
    const [run] = sarif.runs;
    expect(run?.tool.driver.rules.length).toBe(17);
    expect(run?.tool.driver.rules.find((r) => r.id === 'key-without-ip-allow-list')?.help.text).toContain(
      'OWASP-NHI2:2025: OWASP NHI Top 10 2025, NHI2 Secret Leakage',
    );
    expect(run?.results[0]).toMatchObject({
      ruleId: 'api-key-broad-scopes',
      level: 'error',
      locations: [{ logicalLocations: [{ fullyQualifiedName: `api_key:${keyId}` }] }],
    });
    // A finding about the server itself is located at it.
    expect(run?.results.at(-1)).toMatchObject({
      ruleId: 'assertion-audience-permissive',
      locations: [{ logicalLocations: [{ fullyQualifiedName: 'server' }] }],
    });
  });

  it('--fail-on: exit 1 after the report when a finding is at or above the severity, 0 otherwise', async () => {
    const high = await admin('posture', '--fail-on', 'high');
    expect(high.code).toBe(1);
    expect(high.stdout).toMatch(/^posture score/);
    expect(high.stderr).toBe('clavis: 1 finding at or above high (--fail-on high)\n');
    const medium = await admin('posture', '--json', '--fail-on', 'medium');
    expect(medium.code).toBe(1);
    expect(JSON.parse(medium.stdout)).toHaveProperty('findings');
    expect(medium.stderr).toBe('clavis: 3 findings at or above medium (--fail-on medium)\n');
    expect((await admin('posture', '--fail-on', 'critical')).code).toBe(0);
  });

  it('the fix commands it prints, run as printed (placeholders filled in), clear their findings', async () => {
    const before = await json();
    const fixes = before.findings
      .filter((f) =>
        ['api-key-broad-scopes', 'key-without-ip-allow-list', 'principal-without-owner'].includes(f.id),
      )
      .map((f) => f.fix.replace('CIDR', '192.0.2.0/24').replace('OWNER', 'team-payments'));
    expect(fixes).toHaveLength(3);
    for (const fix of fixes) {
      const [clavis, adminWord, ...rest] = fix.split(' ');
      expect([clavis, adminWord]).toEqual(['clavis', 'admin']);
      const res = await admin(...rest);
      expect(res.code, `${fix}: ${res.stderr}`).toBe(0);
    }
    const after = await json();
    expect(after.findings.map((f) => f.id)).toEqual([
      'shared-secret-service-principal',
      'assertion-audience-permissive',
    ]);
    expect((await admin('posture', '--fail-on', 'high')).code).toBe(0);
  });

  it.each([
    [
      ['--fail-on', 'severe'],
      "clavis: option '--fail-on <severity>' argument 'severe' is invalid. must be one of critical, high, medium, low, info\n",
    ],
    [
      ['--rotation-age', '90'],
      /^clavis: option '--rotation-age <duration>' argument '90' is invalid\. invalid duration "90"/,
    ],
    [['--unused', '0d'], /a duration must be greater than zero/],
    [['--json', '--sarif'], "clavis: option '--json' cannot be used with option '--sarif'\n"],
    [
      ['--sarif', '--html', 'x.html'],
      "clavis: option '--sarif' cannot be used with option '--html <file>'\n",
    ],
    [['--html'], "clavis: option '--html <file>' argument missing\n"],
    [['--bogus'], /^clavis: unknown option '--bogus'/],
  ])('refuses posture %j with one line, exit 1', async (args, message) => {
    const res = await admin('posture', ...args);
    expect(res).toMatchObject({ code: 1, stdout: '' });
    if (typeof message === 'string') expect(res.stderr).toBe(message);
    else expect(res.stderr).toMatch(message);
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('--html to a directory that does not exist is one line, exit 1', async () => {
    const res = await admin('posture', '--html', join(tmp.dir, 'missing', 'report.html'));
    expect(res).toMatchObject({ code: 1, stdout: '' });
    expect(res.stderr).toBe(`clavis: cannot write ${join(tmp.dir, 'missing', 'report.html')}: ENOENT\n`);
  });

  it('a clean state is a score of 100 and no findings, in every format', async () => {
    const clean = scratch();
    try {
      await initDatabase(clean.dbUrl);
      const env = { CLAVIS_ASSERTION_AUDIENCE: 'issuer' };
      const run = (...args: string[]) => runCli(['admin', '--db', clean.dbUrl, 'posture', ...args], { env });
      expect(await run('--fail-on', 'info')).toEqual({
        code: 0,
        stdout: 'posture score 100/100: no findings\n',
        stderr: '',
      });
      const report = JSON.parse((await run('--json')).stdout) as JsonReport;
      expect(report).toMatchObject({ findings: [], summary: { score: 100 } });
      const sarif = JSON.parse((await run('--sarif')).stdout) as { runs: { results: unknown[] }[] };
      expect(sarif.runs[0]?.results).toEqual([]);
      const file = join(clean.dir, 'clean.html');
      expect((await run('--html', file)).stdout).toBe(
        `report written: ${file} (score 100/100, 0 findings)\n`,
      );
      expect(readFileSync(file, 'utf8')).toContain('<p>No findings.</p>');
    } finally {
      clean.remove();
    }
  });

  it('a database that is not there is an error, not an empty report', async () => {
    const res = await runCli(['admin', '--db', `sqlite:${join(tmp.dir, 'none.db')}`, 'posture']);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
  });
});
