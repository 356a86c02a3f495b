/**
 * `clavis scan` over a generated corpus, called through `runScan` with deps built here and through
 * `main`: verified Clavis keys are findings with `verified: true`, near misses and harmless
 * high-entropy text are not, other vendors' tokens are; nothing prints a secret in full; standard
 * input; what is skipped; exit codes; bad input refused with exit 3.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { generateApiKey } from '@clavis/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test/support/temp_dir.js';
import { runScan, type ScanDeps, type ScanOptions } from '../../src/commands/scan_run.js';
import { CliError } from '../../src/errors.js';
import { maskSecret } from '../../src/scan/engine.js';
import { scanExitCodes } from '../../src/scan/scan_error.js';
import { BIN, childEnv, NODE, runCli, TextSink } from '../support/cli.js';
import { type Corpus, nearMiss, writeCorpus } from './corpus.js';

interface Finding {
  rule: string;
  severity: string;
  file: string;
  line: number;
  column: number;
  match: string;
  message: string;
  verified?: true;
  commit?: string;
}

describe('clavis scan', () => {
  let root: string;
  let remove: () => void;
  let corpus: Corpus;

  beforeAll(() => {
    ({ path: root, remove } = tempDir('clavis-scan-'));
    corpus = writeCorpus(root);
  });
  afterAll(() => remove());

  function deps(stdin = '', piped = false): ScanDeps & { stdout: TextSink; stderr: TextSink } {
    return {
      stdout: new TextSink(),
      stderr: new TextSink(),
      stdin: Readable.from([stdin]),
      stdinPiped: piped,
      cwd: root,
      fetch: () => Promise.reject(new Error('no network in this test')),
      selfCommand: [NODE, BIN],
    };
  }

  /** Runs the scan; its exit code as main would give it, and the parsed --json output. */
  async function scan(options: Partial<ScanOptions>, d = deps()) {
    const code = await runScan({ paths: [], json: true, ...options }, d).then(
      () => 0,
      (err: unknown) => {
        if (err instanceof CliError) return err.exitCode;
        throw err;
      },
    );
    const out = options.json !== false && d.stdout.text ? JSON.parse(d.stdout.text) : null;
    return {
      code,
      out,
      stdout: d.stdout.text,
      stderr: d.stderr.text,
      findings: (out?.findings ?? []) as Finding[],
    };
  }

  it('finds the verified keys and the other vendors’ tokens, and nothing else', async () => {
    const res = await scan({});
    expect(res.code).toBe(scanExitCodes.findings);
    const verified = res.findings.filter((f) => f.verified);
    expect(verified.map((f) => ({ file: f.file, line: f.line, rule: f.rule, severity: f.severity }))).toEqual(
      corpus.keys.map((k) => ({ file: k.file, line: k.line, rule: 'clavis-api-key', severity: 'high' })),
    );
    const others = res.findings.filter((f) => !f.verified);
    expect(others.map((f) => ({ file: f.file, rule: f.rule }))).toEqual(corpus.vendorFindings);
    // No finding in the near misses, the noise, the binary, or node_modules (outside git: skipped).
    expect(res.findings.map((f) => f.file)).not.toContain('docs/near_miss.md');
    expect(res.findings.map((f) => f.file)).not.toContain('data/noise.txt');
    expect(res.out.skipped).toEqual({ binary: 1, large: 0, unreadable: 0 });
    expect(res.out.scanned.files).toBe(7);
  });

  it('never prints a secret in full, in JSON or in text', async () => {
    const json = await scan({});
    const text = await scan({ json: false });
    expect(text.code).toBe(1);
    for (const output of [json.stdout, text.stdout, text.stderr]) {
      for (const { key } of corpus.keys) {
        expect(output).not.toContain(key);
        expect(output).not.toContain(key.slice(4, 20));
      }
      expect(output).not.toMatch(/ghp_[0-9A-Za-z]{10}/);
      expect(output).not.toContain('PRIVATE KEY-----\nMI');
    }
    const key = corpus.keys[0]?.key as string;
    expect(json.findings.find((f) => f.file === 'deploy/.env')?.match).toBe(maskSecret(key));
    expect(maskSecret(key)).toBe(`clv_${key.slice(4, 6)}…`);
    // Text: one line per finding on stdout, `file:line:column  severity  rule  match`; the summary on stderr.
    expect(text.stdout).toContain(`deploy/.env:2:16  high  clavis-api-key  ${maskSecret(key)} (verified)`);
    expect(text.stdout.trim().split('\n')).toHaveLength(5);
    expect(text.stderr).toMatch(
      /^scanned 7 files \([\d.]+ MB\) in [\d.]+ s: 5 findings \(2 verified Clavis keys\); skipped 1 binary\n$/,
    );
  });

  it('a clean tree exits 0 with no findings', async () => {
    const res = await scan({ paths: ['docs', 'data'] });
    expect(res).toMatchObject({ code: 0, findings: [] });
    expect(res.out.scanned.files).toBe(2);
  });

  it('a file named explicitly is scanned even under node_modules', async () => {
    const res = await scan({ paths: ['node_modules/dep/index.js'] });
    expect(res.code).toBe(1);
    expect(res.findings).toMatchObject([{ rule: 'clavis-api-key', verified: true, line: 1 }]);
  });

  it('a near miss alone is not reported; the same key with its checksum is', async () => {
    const key = generateApiKey();
    expect((await scan({ paths: ['-'] }, deps(`token: ${nearMiss(key)}\n`))).findings).toEqual([]);
    const found = await scan({ paths: ['-'] }, deps(`token: ${key}\n`));
    expect(found.findings).toEqual([
      {
        rule: 'clavis-api-key',
        severity: 'high',
        file: '<stdin>',
        line: 1,
        column: 8,
        message: 'Clavis API key (checksum verified)',
        match: maskSecret(key),
        verified: true,
      },
    ]);
  });

  it('reads standard input for `-`, and when piped with no PATH', async () => {
    const key = generateApiKey();
    expect((await scan({ paths: [] }, deps(`x\ny = ${key}\n`, true))).findings).toMatchObject([
      { file: '<stdin>', line: 2, verified: true },
    ]);
    // Not piped (a terminal, /dev/null): no PATH means the current folder.
    expect((await scan({ paths: [] }, deps(`y = ${key}\n`, false))).findings.length).toBe(5);
  });

  it('skips files over 10 MiB and counts them', async () => {
    const { path, remove: rm } = tempDir('clavis-scan-large-');
    try {
      writeFileSync(join(path, 'big.log'), `${'a'.repeat(10 * 1024 * 1024)}\n${generateApiKey()}\n`);
      writeFileSync(join(path, 'small.txt'), 'hello\n');
      const res = await scan({ paths: [path] });
      expect(res).toMatchObject({ code: 0, findings: [] });
      expect(res.out.skipped).toEqual({ binary: 0, large: 1, unreadable: 0 });
    } finally {
      rm();
    }
  });

  it('standard input over 10 MiB is read through, skipped and counted', async () => {
    const res = await scan({ paths: ['-'] }, deps(`${'x'.repeat(10 * 1024 * 1024)}\n${generateApiKey()}\n`));
    expect(res).toMatchObject({ code: 0, findings: [] });
    expect(res.out.skipped).toEqual({ binary: 0, large: 1, unreadable: 0 });
  });

  it.each([
    [{ paths: ['does/not/exist'] }, /^no such file or directory: does\/not\/exist$/],
    [{ paths: ['-', 'src'] }, /cannot be combined with paths/],
    [{ git: true, staged: true }, /--git and --staged cannot be combined/],
    [{ git: true, paths: ['a', 'b'] }, /at most one PATH/],
    [{ staged: true, paths: [] }, /not inside a git work tree/],
    [{ report: 'ftp://example.com' }, /--report must be an https URL/],
    [{ report: 'http://example.com' }, /--report must be an https URL/],
    [{ report: 'https://user:pw@example.com' }, /without credentials/],
    [{ report: 'not a url' }, /--report is not a URL/],
  ])('refuses %o with exit 3 and one line', async (options, message) => {
    const d = deps();
    const err = await runScan({ paths: [], ...options }, d).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(scanExitCodes.error);
    expect((err as CliError).message).toMatch(message);
    expect((err as CliError).message).not.toContain('\n');
    expect(d.stdout.text).toBe('');
  });

  it('through main: exit codes 1 (findings), 0 (clean), 3 (a bad flag or path)', async () => {
    const key = generateApiKey();
    const found = await runCli(['scan', '--json', '-'], { stdin: `k=${key}\n` });
    expect(found.code).toBe(1);
    expect(JSON.parse(found.stdout).findings).toMatchObject([{ verified: true, file: '<stdin>' }]);
    expect(await runCli(['scan', '-'], { stdin: 'nothing here\n' })).toMatchObject({ code: 0, stdout: '' });
    expect(await runCli(['scan', '--bogus'])).toMatchObject({
      code: 3,
      stderr: "clavis: unknown option '--bogus'\n",
    });
    expect(await runCli(['scan', '--install-hook', '--git'])).toMatchObject({
      code: 3,
      stderr: 'clavis: --install-hook takes no other flag but --force\n',
    });
  });

  it('the built binary reads piped standard input', () => {
    const key = generateApiKey();
    const res = spawnSync(NODE, [BIN, 'scan'], {
      input: `secret: ${key}\n`,
      env: childEnv(),
      encoding: 'utf8',
    });
    expect(res.status).toBe(1);
    expect(res.stdout).toContain(`<stdin>:1:9  high  clavis-api-key  ${maskSecret(key)} (verified)`);
    expect(res.stdout + res.stderr).not.toContain(key);
  });

  it('a large tree is spread over worker threads and finds the same', () => {
    const { path, remove: rm } = tempDir('clavis-scan-workers-');
    try {
      // 8 MB of base64 lines (over the 4 MB the main thread scans alone), a key in every 50th file.
      const keys: string[] = [];
      for (let i = 0; i < 400; i++) {
        const key = i % 50 === 7 ? generateApiKey() : null;
        if (key) keys.push(`f${i}.txt`);
        const body = randomBytes(15_000)
          .toString('base64')
          .replace(/(.{76})/g, '$1\n');
        writeFileSync(join(path, `f${i}.txt`), `${body}\n${key ? `key = ${key}\n` : ''}`);
      }
      const res = spawnSync(NODE, [BIN, 'scan', '--json', path], { env: childEnv(), encoding: 'utf8' });
      expect(res.status, res.stderr).toBe(1);
      const out = JSON.parse(res.stdout);
      expect(out.scanned.files).toBe(400);
      expect(out.findings.map((f: Finding) => [f.file.slice(path.length + 1), f.verified])).toEqual(
        keys.sort().map((file) => [file, true]),
      );
    } finally {
      rm();
    }
  });
});
