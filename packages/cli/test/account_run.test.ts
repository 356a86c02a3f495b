/**
 * The run functions of `login | logout | whoami | token` and `auth …` called directly, with the
 * environment and streams the test chooses: what needs no server (CLAVIS_TOKEN, the cached login), and
 * bad input straight to `run…`: malformed servers, helper input, exec info and hosts.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LoginStore } from '@clavis/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServer } from '../src/commands/account/server.js';
import { runWhoami } from '../src/commands/account/session_run.js';
import { printTokenFast, runToken } from '../src/commands/account/token_run.js';
import {
  runDockerCredential,
  runGitCredential,
  runKubeCredential,
  runSetupGit,
} from '../src/commands/auth/helpers_run.js';
import { selfCommand } from '../src/commands/auth/self_command.js';
import { CliError } from '../src/errors.js';
import { runCli, spawnCli, TextSink } from './support/cli.js';

const ISSUER = 'https://clavis.example.test';
const JWT =
  'eyJhbGciOiJFZERTQSJ9.' +
  Buffer.from(
    JSON.stringify({ sub: 'svc_1', client_id: 'svc_1', scope: 'a b', exp: 2_000_000_000 }),
  ).toString('base64url') +
  '.c2ln';

function deps(env: Record<string, string | undefined>, stdin = '') {
  return { stdin: Readable.from([stdin]), stdout: new TextSink(), stderr: new TextSink(), env };
}

describe('the person commands run directly', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'clavis-cli-run-'));
    env = { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config') };
    const now = Date.now();
    await new LoginStore({ env, keychain: null, warn: () => {} }).save({
      issuer: ISSUER,
      clientId: 'clavis-cli',
      sub: 'usr_1',
      username: 'ada',
      accessToken: 'cached.access.token',
      obtainedAt: now,
      expiresAt: now + 3600_000,
      scopes: ['openid'],
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves the server from the flag, CLAVIS_SERVER or the last login, and refuses bad ones', async () => {
    expect(await resolveServer('https://a.example.test/', {})).toBe('https://a.example.test');
    expect(await resolveServer(undefined, { CLAVIS_SERVER: 'http://127.0.0.1:8080' })).toBe(
      'http://127.0.0.1:8080',
    );
    expect(await resolveServer(undefined, env)).toBe(ISSUER);
    for (const bad of [
      'not a url',
      'ftp://x.example.test',
      'javascript:alert(1)',
      `https://${'a'.repeat(3000)}.test`,
      'https://u:p@x.example.test',
      'https://x.example.test/?q=1',
      // Plain http only on loopback: a bearer token must not cross a network in the clear.
      'http://clavis.example.test',
      'http://10.0.0.5:8080',
    ]) {
      await expect(resolveServer(bad, {})).rejects.toBeInstanceOf(CliError);
    }
    await expect(resolveServer(undefined, { HOME: dir, XDG_CONFIG_HOME: join(dir, 'none') })).rejects.toThrow(
      /no server: pass --server URL or set CLAVIS_SERVER/,
    );
  });

  it('token prints CLAVIS_TOKEN as is, else the cached login, one line on stdout', async () => {
    const d = deps({ ...env, CLAVIS_TOKEN: 'given' });
    await runToken({}, d);
    expect(d.stdout.text).toBe('given\n');
    const cached = deps(env);
    await runToken({}, cached);
    expect(cached.stdout.text).toBe('cached.access.token\n');
    expect(cached.stderr.text).toBe('');
  });

  it('the fast path takes only `token [--server URL]`, and leaves every failure to main', async () => {
    const yes = async (args: string[], e = env) => {
      const stdout = new TextSink();
      return { printed: await printTokenFast(args, { stdout, env: e }), text: stdout.text };
    };
    expect(await yes([])).toEqual({ printed: true, text: 'cached.access.token\n' });
    expect(await yes(['--server', ISSUER])).toEqual({ printed: true, text: 'cached.access.token\n' });
    expect(await yes([`--server=${ISSUER}/`])).toEqual({ printed: true, text: 'cached.access.token\n' });
    for (const args of [
      ['--server'],
      ['--help'],
      ['--server', 'not a url'],
      ['extra'],
      ['--server', ISSUER, 'x'],
    ]) {
      expect(await yes(args)).toEqual({ printed: false, text: '' });
    }
    expect(await yes([], { ...env, CI: 'true' })).toEqual({ printed: false, text: '' });
    expect(await yes([], { ...env, CLAVIS_API_KEY: 'clv_x' })).toEqual({ printed: false, text: '' });
  });

  it('whoami with CLAVIS_TOKEN needs no server and reads the token claims', async () => {
    const d = deps({ CLAVIS_TOKEN: JWT });
    await runWhoami({ json: true }, d);
    expect(JSON.parse(d.stdout.text)).toEqual({
      sub: 'svc_1',
      client_id: 'svc_1',
      scopes: ['a', 'b'],
      expires_at: new Date(2_000_000_000_000).toISOString(),
      source: 'env',
      store: 'none',
    });
  });

  it('through main: token and whoami --help, and a bad flag is one line', async () => {
    expect((await runCli(['token', '--server', ISSUER], { env })).stdout).toBe('cached.access.token\n');
    const bad = await runCli(['whoami', '--jsn'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('the helpers run directly, with bad input', () => {
  const env = { CLAVIS_TOKEN: 'tok', HOME: '/nonexistent', XDG_CONFIG_HOME: '/nonexistent' };

  it('git: answers only a configured https host; malformed, NUL or oversized input is refused', async () => {
    const ok = deps(env, 'protocol=https\nhost=git.example.test\n\n');
    await runGitCredential({ action: 'get', host: ['git.example.test'] }, ok);
    expect(ok.stdout.text).toBe('username=clavis\npassword=tok\n');
    const none = deps(env, 'protocol=https\nhost=other.example.test\n\n');
    await runGitCredential({ action: 'get', host: ['git.example.test'] }, none);
    expect(none.stdout.text).toBe('');
    const nothingConfigured = deps(env, 'protocol=https\nhost=git.example.test\n\n');
    await runGitCredential({ action: 'get' }, nothingConfigured);
    expect(nothingConfigured.stdout.text).toBe('');
    for (const input of [
      'noequals\n',
      'host=a\0b\n',
      'x'.repeat(70_000),
      Buffer.from([0xff, 0xfe]).toString('latin1'),
    ]) {
      await expect(runGitCredential({ action: 'get', host: ['a'] }, deps(env, input))).rejects.toBeInstanceOf(
        CliError,
      );
    }
    const store = deps(env, 'protocol=https\nhost=git.example.test\nusername=u\npassword=p\n\n');
    await runGitCredential({ action: 'store', host: ['git.example.test'] }, store);
    expect(store.stdout.text).toBe('');
  });

  it('docker: list, get, and the protocol failures on stdout with exit 1', async () => {
    const list = deps(env);
    expect(await runDockerCredential({ action: 'list', registry: ['r.example.test'] }, list)).toBe(0);
    expect(list.stdout.text).toBe('{"r.example.test":"clavis"}\n');
    const get = deps(env, 'https://r.example.test\n');
    expect(await runDockerCredential({ action: 'get', registry: ['r.example.test'] }, get)).toBe(0);
    expect(JSON.parse(get.stdout.text)).toEqual({
      ServerURL: 'https://r.example.test',
      Username: 'clavis',
      Secret: 'tok',
    });
    const fromEnv = deps({ ...env, CLAVIS_DOCKER_REGISTRIES: ' a.example.test , b.example.test:5000 ' });
    expect(await runDockerCredential({ action: 'list' }, fromEnv)).toBe(0);
    expect(Object.keys(JSON.parse(fromEnv.stdout.text))).toEqual(['a.example.test', 'b.example.test:5000']);
    for (const [action, input, message] of [
      ['get', '', 'no credentials server URL'],
      ['get', 'http://r.example.test', 'credentials not found in native keychain'],
      ['store', '{"ServerURL":"x"}', 'no credentials username'],
      ['store', 'not json', 'store input is not JSON'],
      ['frobnicate', '', 'docker-credential-clavis: unknown action: frobnicate'],
    ] as const) {
      const d = deps(env, input);
      expect(await runDockerCredential({ action, registry: ['r.example.test'] }, d)).toBe(1);
      expect(d.stdout.text).toBe(`${message}\n`);
    }
  });

  it('kube: answers in the apiVersion asked; malformed or unsupported exec info is one CliError', async () => {
    const d = deps({
      ...env,
      KUBERNETES_EXEC_INFO:
        '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{}}',
    });
    await runKubeCredential({}, d);
    expect(JSON.parse(d.stdout.text)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      spec: {},
      status: { token: 'tok' },
    });
    for (const info of [
      '{',
      '[]',
      '{"kind":"ExecCredential","apiVersion":"v0","spec":{}}',
      'x'.repeat(300_000),
    ]) {
      await expect(
        runKubeCredential({}, deps({ ...env, KUBERNETES_EXEC_INFO: info })),
      ).rejects.toBeInstanceOf(CliError);
    }
  });

  it('setup-git refuses a host that could break out of the config line', async () => {
    for (const host of ['evil.test\n[core]', 'a b', 'x;rm', '']) {
      await expect(runSetupGit({ host: [host] }, deps(env))).rejects.toBeInstanceOf(CliError);
    }
  });
});

describe('setup-git: the helper line names a program git can run', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'clavis-self-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('`clavis` when it is on PATH; else node and the script, or the single executable, by absolute path', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'clavis'), '#!/bin/sh\n', { mode: 0o755 });
    const script = join(dir, "it's here", 'bin.js');
    mkdirSync(join(dir, "it's here"));
    writeFileSync(script, '');
    const program = { execPath: '/opt/node 24/bin/node', script };
    expect(selfCommand({ PATH: `/nonexistent:${bin}` }, program)).toBe('clavis');
    expect(selfCommand({ PATH: '/nonexistent' }, program)).toBe(
      `'/opt/node 24/bin/node' '${join(dir, "it'\\''s here", 'bin.js')}'`,
    );
    expect(
      selfCommand({}, { execPath: '/usr/local/bin/clavis-sea', script: '/usr/local/bin/clavis-sea' }),
    ).toBe("'/usr/local/bin/clavis-sea'");
    // A `clavis` that is a directory or not executable is not one git can run.
    const fake = join(dir, 'fake');
    mkdirSync(join(fake, 'clavis'), { recursive: true });
    expect(selfCommand({ PATH: fake }, program)).not.toBe('clavis');
  });

  it('from a checkout without clavis on PATH, git gets a line that runs this CLI', async () => {
    const gitconfig = join(dir, 'gitconfig');
    writeFileSync(gitconfig, '');
    const env = { HOME: dir, PATH: '/usr/bin:/bin', GIT_CONFIG_GLOBAL: gitconfig };
    const setup = await spawnCli(['auth', 'setup-git', '--host', 'code.example.test'], env);
    expect(setup).toMatchObject({ code: 0 });
    const line = execFileSync(
      'git',
      ['config', '--global', '--get-all', 'credential.https://code.example.test.helper'],
      {
        env,
      },
    )
      .toString()
      .split('\n')[1] as string;
    expect(line).toMatch(/^!'\/.+' '\/.+bin\.js' auth git-credential --host code\.example\.test$/);
    // The program part of the line, run by the shell as git would: it is this CLI.
    const program = line.slice(1).replace(/ auth git-credential .*$/, '');
    const version = execFileSync('/bin/sh', ['-c', `${program} --version`], { env })
      .toString()
      .trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
