/**
 * Help as an operator reads it: every subcommand of every group listed, required options marked, the
 * exit codes and the error prefix stated, and `clavis help environment` naming every `CLAVIS_` variable
 * any package reads (found by scanning the sources, so a new one cannot be forgotten).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/main.js';
import { lines, runCli, spawnCli, TextSink } from './support/cli.js';

const packages = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return entry.endsWith('.ts') ? [path] : [];
  });
}

describe('clavis --version', () => {
  it("prints the package's version", async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const res = await runCli(['--version']);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout.trim()).toBe(pkg.version);
  });
});

describe('clavis help environment', () => {
  it('lists every CLAVIS_ variable read in the sources, one line each', async () => {
    const read = new Set<string>();
    for (const pkg of ['cli', 'sdk', 'server', 'core']) {
      for (const file of sources(join(packages, pkg, 'src'))) {
        for (const m of readFileSync(file, 'utf8').matchAll(/\bCLAVIS_[A-Z0-9_]*[A-Z0-9]\b/g)) read.add(m[0]);
      }
    }
    expect(read.size).toBeGreaterThan(20);
    const res = await runCli(['help', 'environment']);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    const listed = lines(res.stdout)
      .map((l) => /^ {2}(CLAVIS_\w+) {2,}\S/.exec(l)?.[1])
      .filter((name): name is string => name !== undefined);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...read].filter((name) => !listed.includes(name)).sort()).toEqual([]);
  });

  it('names BROWSER, which clavis login reads to open the link', async () => {
    const res = await runCli(['help', 'environment']);
    expect(res.stdout).toMatch(/^ {2}BROWSER {2,}the command `clavis login` opens the link with/m);
  });

  it('the built binary prints it too, without a database', async () => {
    const res = await spawnCli(['help', 'environment']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('CLAVIS_LOG_LEVEL');
  });
});

describe('help texts', () => {
  const sink = new TextSink();
  const program = buildProgram({
    stdout: sink,
    stderr: sink,
    stdin: process.stdin,
    env: {},
    stopSignal: new Promise<string>(() => {}),
  });
  const all = (command: Command, path: string[] = []): Array<[string[], Command]> =>
    command.commands.flatMap((c) => [
      [[...path, c.name()], c] as [string[], Command],
      ...all(c, [...path, c.name()]),
    ]);

  it.each(all(program).filter(([, c]) => c.commands.length > 0))(
    '%s lists every subcommand',
    async (path, group) => {
      const res = await runCli([...path, '--help']);
      expect(res.code).toBe(0);
      for (const sub of group.commands) expect(res.stdout).toMatch(new RegExp(`^ {2}${sub.name()}\\b`, 'm'));
    },
  );

  it('every required option is marked (required) in its command help', async () => {
    let checked = 0;
    for (const [path, command] of all(program)) {
      const required = command.options.filter((o) => o.mandatory);
      if (required.length === 0) continue;
      const res = await runCli([...path, '--help']);
      const text = res.stdout.replace(/\n\s+/g, ' ');
      for (const option of required) {
        expect(text, `${path.join(' ')} ${option.flags}`).toMatch(
          new RegExp(`${option.flags.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*?\\(required\\)`),
        );
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(3);
  });

  it('no help shows an empty list as a default', async () => {
    for (const [path] of all(program)) {
      const res = await runCli([...path, '--help']);
      expect(res.stdout, path.join(' ')).not.toContain('(default: [])');
    }
  });

  it('admin help names every kind of thing it administers, not only its first three', async () => {
    const res = await runCli(['admin', '--help']);
    const description = res.stdout.split('\n\n')[1]?.replace(/\s+/g, ' ') ?? '';
    for (const noun of [
      'clients',
      'people',
      'API keys',
      'federations',
      'identity providers',
      'audit log',
      'posture',
    ]) {
      expect(description).toContain(noun);
    }
  });

  it('users create help promises a TOTP secret only with --totp', async () => {
    const res = await runCli(['admin', 'users', 'create', '--help']);
    expect(res.stdout.replace(/\s+/g, ' ')).toContain('and with --totp a TOTP secret');
  });

  it('token help lists the credentials in the order the SDK tries them', async () => {
    const res = await runCli(['token', '--help']);
    const text = res.stdout.replace(/\s+/g, ' ');
    const at = ['CLAVIS_TOKEN', 'an API key', 'a private key', 'stored login', 'federation'].map((s) =>
      text.indexOf(s),
    );
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it('the top-level help states the exit codes, the error prefix and the environment topic', async () => {
    const res = await runCli(['--help']);
    expect(res.stdout).toContain('Exit codes: 0 ok, 1 error, 2 cancelled, 4 authentication');
    expect(res.stdout).toContain('Errors are one line on stderr, starting "clavis: ".');
    expect(res.stdout).toContain('clavis help environment');
  });
});
