/**
 * `clavis scan --git`, `--staged` and `--install-hook` on real repositories made with the real git:
 * a key committed then deleted is found at the commit that added it; the staged blob is what is
 * scanned, not the working tree; the installed hook blocks a real `git commit` holding a key and lets a
 * clean one through; an existing hook is kept unless --force.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { generateApiKey } from '@clavis/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test/support/temp_dir.js';
import { runScan, runScanInstallHook, type ScanDeps, type ScanOptions } from '../../src/commands/scan_run.js';
import { CliError } from '../../src/errors.js';
import { hookScript } from '../../src/scan/hook.js';
import { BIN, NODE, TextSink } from '../support/cli.js';

/** git with a fixed identity and no system or user configuration. */
function gitEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
  };
}

describe('clavis scan and git', () => {
  let dir: string;
  let remove: () => void;
  let repo: string;
  let env: Record<string, string>;

  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd: repo, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  beforeEach(() => {
    ({ path: dir, remove } = tempDir('clavis-scan-git-'));
    repo = join(dir, 'repo');
    mkdirSync(repo);
    env = gitEnv(dir);
    git('init', '-q', '-b', 'main');
  });
  afterEach(() => remove());

  function deps(): ScanDeps & { stdout: TextSink; stderr: TextSink } {
    return {
      stdout: new TextSink(),
      stderr: new TextSink(),
      stdin: Readable.from(['']),
      stdinPiped: false,
      cwd: repo,
      fetch: () => Promise.reject(new Error('no network in this test')),
      selfCommand: [NODE, BIN],
    };
  }

  async function scan(options: Partial<ScanOptions>) {
    const d = deps();
    const code = await runScan({ paths: [], json: true, ...options }, d).then(
      () => 0,
      (err: unknown) => (err instanceof CliError ? err.exitCode : Promise.reject(err)),
    );
    return { code, out: d.stdout.text ? JSON.parse(d.stdout.text) : null, stderr: d.stderr.text };
  }

  it('--git finds a key that was committed then deleted, at the commit that added it', async () => {
    const key = generateApiKey();
    writeFileSync(join(repo, 'README'), 'hello\n');
    git('add', '.');
    git('commit', '-qm', 'first');
    writeFileSync(join(repo, 'config.env'), `A=1\nKEY=${key}\n`);
    git('add', '.');
    git('commit', '-qm', 'add a key');
    const added = git('rev-parse', 'HEAD').trim();
    rmSync(join(repo, 'config.env'));
    git('commit', '-qam', 'remove the key');
    // A branch that keeps the same blob under another name: reported once, at its first commit.
    git('checkout', '-qb', 'other', added);
    writeFileSync(join(repo, 'copy.env'), `A=1\nKEY=${key}\n`);
    git('add', '.');
    git('commit', '-qm', 'copy');
    git('checkout', '-q', 'main');

    // The working tree holds no key any more.
    expect((await scan({})).code).toBe(0);
    const res = await scan({ git: true });
    expect(res.code).toBe(1);
    expect(res.out.findings).toEqual([
      expect.objectContaining({
        rule: 'clavis-api-key',
        file: 'config.env',
        line: 2,
        commit: added,
        verified: true,
      }),
    ]);
    // README, config.env (copy.env is the same blob).
    expect(res.out.scanned.files).toBe(2);
    expect(JSON.stringify(res.out)).not.toContain(key);
  });

  it('in a work tree a folder gives what git would commit; an ignored folder named explicitly is walked', async () => {
    const key = generateApiKey();
    writeFileSync(join(repo, '.gitignore'), 'secrets/\nvendor/\n');
    mkdirSync(join(repo, 'secrets'));
    writeFileSync(join(repo, 'secrets', 'local.env'), `KEY=${key}\n`);
    writeFileSync(join(repo, 'tracked.txt'), 'nothing\n');
    git('add', 'tracked.txt');
    writeFileSync(join(repo, 'untracked.txt'), `KEY=${key}\n`);
    const all = await scan({});
    expect(all.out.findings.map((f: { file: string }) => f.file)).toEqual(['untracked.txt']);
    expect(all.out.scanned.files).toBe(3); // .gitignore, tracked.txt, untracked.txt
    const named = await scan({ paths: ['secrets'] });
    expect(named.out.findings.map((f: { file: string }) => f.file)).toEqual(['secrets/local.env']);
  });

  it('--git on a repository with no commit finds nothing; outside a repository is exit 3', async () => {
    expect(await scan({ git: true })).toMatchObject({ code: 0, out: { findings: [] } });
    const outside = join(dir, 'plain');
    mkdirSync(outside);
    expect(await scan({ git: true, paths: [outside] })).toMatchObject({ code: 3 });
  });

  it('--staged reads the staged blob, not the working tree', async () => {
    const key = generateApiKey();
    writeFileSync(join(repo, 'a.txt'), `key ${key}\n`);
    git('add', 'a.txt');
    // Fixed in the working tree but not staged: the commit would still hold the key.
    writeFileSync(join(repo, 'a.txt'), 'no key\n');
    expect((await scan({ staged: true })).out.findings).toMatchObject([
      { file: 'a.txt', line: 1, verified: true },
    ]);
    git('add', 'a.txt');
    expect(await scan({ staged: true })).toMatchObject({ code: 0, out: { findings: [] } });
    // Staged in the working tree only (not added): nothing staged to scan.
    writeFileSync(join(repo, 'b.txt'), `key ${key}\n`);
    expect(await scan({ staged: true })).toMatchObject({ code: 0 });
  });

  it('the installed hook blocks a real commit holding a key and lets a clean one through', async () => {
    const d = deps();
    await runScanInstallHook({}, d);
    const hook = join(repo, '.git', 'hooks', 'pre-commit');
    expect(d.stderr.text).toBe(`installed the pre-commit hook: ${hook}\n`);
    expect(readFileSync(hook, 'utf8')).toBe(hookScript([NODE, BIN]));
    expect(statSync(hook).mode & 0o777).toBe(0o755);

    writeFileSync(join(repo, 'clean.txt'), 'nothing secret\n');
    git('add', 'clean.txt');
    const clean = spawnSync('git', ['commit', '-qm', 'clean'], { cwd: repo, env, encoding: 'utf8' });
    expect(clean.status, clean.stderr).toBe(0);

    const key = generateApiKey();
    writeFileSync(join(repo, 'leak.ts'), `export const key = '${key}';\n`);
    git('add', 'leak.ts');
    const blocked = spawnSync('git', ['commit', '-qm', 'leak'], { cwd: repo, env, encoding: 'utf8' });
    expect(blocked.status).not.toBe(0);
    // git sends a hook's stdout to stderr.
    expect(blocked.stderr).toContain('leak.ts:1:21  high  clavis-api-key');
    expect(blocked.stderr).toContain('clavis: the commit is refused');
    expect(blocked.stdout + blocked.stderr).not.toContain(key);
    expect(git('log', '--format=%s')).toBe('clean\n');
  });

  it('--install-hook keeps a different hook unless --force, and is idempotent', async () => {
    const hooks = join(repo, '.git', 'hooks');
    mkdirSync(hooks, { recursive: true });
    const hook = join(hooks, 'pre-commit');
    writeFileSync(hook, '#!/bin/sh\nexit 0\n');
    chmodSync(hook, 0o755);
    const err = await runScanInstallHook({}, deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toBe(`${hook} exists and is another hook: pass --force to replace it`);
    expect((err as CliError).exitCode).toBe(3);
    expect(readFileSync(hook, 'utf8')).toBe('#!/bin/sh\nexit 0\n');

    const d = deps();
    await runScanInstallHook({ force: true }, d);
    expect(d.stderr.text).toBe(`replaced the pre-commit hook: ${hook}\n`);
    const again = deps();
    await runScanInstallHook({}, again);
    expect(again.stderr.text).toBe(`the pre-commit hook is already installed: ${hook}\n`);
  });

  it('--install-hook honours core.hooksPath, and refuses outside a repository', async () => {
    git('config', 'core.hooksPath', 'tools/hooks');
    await runScanInstallHook({}, deps());
    expect(readFileSync(join(repo, 'tools', 'hooks', 'pre-commit'), 'utf8')).toBe(hookScript([NODE, BIN]));
    const outside = join(dir, 'plain');
    mkdirSync(outside);
    const err = await runScanInstallHook({}, { ...deps(), cwd: outside }).catch((e: unknown) => e);
    expect((err as CliError).message).toBe('not inside a git work tree');
  });

  it('the hook script quotes its command for the shell', () => {
    expect(hookScript(["/opt/it's here/node", '/x/bin.js'])).toContain(
      `exec '/opt/it'\\''s here/node' '/x/bin.js' scan --staged\n`,
    );
  });
});
