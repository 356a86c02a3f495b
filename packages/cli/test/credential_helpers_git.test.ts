import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialHelperError } from '../src/credential_helpers/errors.js';
import {
  answerGitCredential,
  formatGitCredential,
  type GitHelperDeps,
  matchGitHost,
  parseGitCredentialRequest,
} from '../src/credential_helpers/git.js';
import { readHelperInput } from '../src/credential_helpers/read_input.js';

const hosts = [
  { host: 'git.example.test', username: 'clavis' },
  { host: 'Code.Example.test:8443', username: 'oauth2' },
];
const token = 'clv_at_0123456789abcdef';
const deps: GitHelperDeps = { hosts, getToken: async () => ({ token }) };

function refusal(input: string): string | undefined {
  try {
    parseGitCredentialRequest(input);
    return undefined;
  } catch (error) {
    return error instanceof CredentialHelperError ? error.code : `unexpected ${String(error)}`;
  }
}

describe('parseGitCredentialRequest', () => {
  it('reads what git sends for an https remote (git 2.46 with capabilities)', () => {
    const input =
      'capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.example.test\n' +
      'wwwauth[]=Bearer realm="git"\nwwwauth[]=Basic realm="git"\n\n';
    expect(parseGitCredentialRequest(input)).toEqual({
      protocol: 'https',
      host: 'git.example.test',
      wwwauth: ['Bearer realm="git"', 'Basic realm="git"'],
      capability: ['authtype', 'state'],
    });
  });

  it('stops at the first blank line, accepts CRLF and a missing final newline', () => {
    expect(parseGitCredentialRequest('protocol=https\r\nhost=a.test\r\n\r\nhost=b.test\n')).toMatchObject({
      host: 'a.test',
    });
    expect(parseGitCredentialRequest('protocol=https\nhost=a.test')).toMatchObject({ host: 'a.test' });
    expect(parseGitCredentialRequest('')).toEqual({ wwwauth: [], capability: [] });
  });

  it('takes a value with = in it whole, lets a later line win, and drops unknown keys', () => {
    expect(
      parseGitCredentialRequest('path=a=b\nhost=x.test\nhost=y.test\nfuture_key=1\npassword_expiry_utc=9\n'),
    ).toEqual({ path: 'a=b', host: 'y.test', wwwauth: [], capability: [] });
  });

  it('resets a list on an empty value', () => {
    expect(parseGitCredentialRequest('wwwauth[]=Basic\nwwwauth[]=\nwwwauth[]=Bearer\n').wwwauth).toEqual([
      'Bearer',
    ]);
  });

  it('reads url= as its parts, replacing what came before', () => {
    expect(
      parseGitCredentialRequest(
        'username=old\npassword=old\nurl=https://me%40corp@Git.Example.test:8443/org/r%20x.git\n',
      ),
    ).toEqual({
      protocol: 'https',
      host: 'git.example.test:8443',
      path: 'org/r x.git',
      username: 'me@corp',
      wwwauth: [],
      capability: [],
    });
  });

  it.each([
    ['a line without =', 'protocol=https\nhost\n', 'malformed_line'],
    ['a line with an empty key', '=value\n', 'malformed_line'],
    ['a NUL byte', 'protocol=https\nhost=a.test\0.evil\n', 'nul_byte'],
    ['a url that is not one', 'url=not a url\n', 'invalid_url'],
    ['a url with broken escapes', 'url=https://a.test/%zz\n', 'invalid_url'],
  ])('refuses %s', (_name, input, code) => {
    expect(refusal(input)).toBe(code);
  });
});

describe('matchGitHost', () => {
  const request = (fields: string) => parseGitCredentialRequest(fields);
  it('matches a configured https host, without case, port included', () => {
    expect(matchGitHost(request('protocol=https\nhost=GIT.example.test\n'), hosts)).toEqual(hosts[0]);
    expect(matchGitHost(request('protocol=https\nhost=code.example.test:8443\n'), hosts)).toEqual(hosts[1]);
  });
  it.each([
    ['plain http', 'protocol=http\nhost=git.example.test\n'],
    ['another host', 'protocol=https\nhost=evil.test\n'],
    ['a suffix of a configured host', 'protocol=https\nhost=evilgit.example.test\n'],
    ['another port', 'protocol=https\nhost=code.example.test\n'],
    ['another username', 'protocol=https\nhost=git.example.test\nusername=someone\n'],
    ['no host', 'protocol=https\n'],
  ])('does not match %s', (_name, fields) => {
    expect(matchGitHost(request(fields), hosts)).toBeUndefined();
  });
});

describe('formatGitCredential', () => {
  it('writes username, password and the expiry in Unix seconds', () => {
    expect(formatGitCredential({ username: 'clavis', password: token })).toBe(
      `username=clavis\npassword=${token}\n`,
    );
    expect(
      formatGitCredential({ username: 'u', password: 'p', expiresAt: new Date('2026-12-02T10:15:30.900Z') }),
    ).toBe('username=u\npassword=p\npassword_expiry_utc=1796206530\n');
  });
  it('refuses values that would break the protocol, without echoing them', () => {
    for (const password of ['a\nhost=evil.test', 'a\0b', '']) {
      expect(() => formatGitCredential({ username: 'u', password })).toThrow(
        expect.objectContaining({
          code: 'invalid_value',
          message: expect.not.stringContaining(password || 'x'),
        }),
      );
    }
  });
});

describe('answerGitCredential', () => {
  it('answers get for a configured host, nothing for the rest', async () => {
    expect(await answerGitCredential('get', 'protocol=https\nhost=git.example.test\n\n', deps)).toBe(
      `username=clavis\npassword=${token}\n`,
    );
    expect(await answerGitCredential('get', 'protocol=https\nhost=other.test\n\n', deps)).toBe('');
  });
  it('answers nothing when there is no token', async () => {
    const loggedOut = { hosts, getToken: async () => undefined };
    expect(await answerGitCredential('get', 'protocol=https\nhost=git.example.test\n\n', loggedOut)).toBe('');
  });
  it('ignores store, erase and unknown actions without asking for a token', async () => {
    let asked = 0;
    const counting = { hosts, getToken: async () => ({ token: `${++asked}` }) };
    const offered = `protocol=https\nhost=git.example.test\nusername=clavis\npassword=${token}\n\n`;
    for (const action of ['store', 'erase', 'future-action']) {
      expect(await answerGitCredential(action, offered, counting)).toBe('');
    }
    expect(asked).toBe(0);
  });
  it('refuses malformed input to get', async () => {
    await expect(answerGitCredential('get', 'host\n', deps)).rejects.toMatchObject({
      code: 'malformed_line',
    });
  });
});

describe('readHelperInput', () => {
  it('reads the whole input as UTF-8', async () => {
    expect(await readHelperInput(Readable.from([Buffer.from('host=é'), Buffer.from('.test\n')]))).toBe(
      'host=é.test\n',
    );
  });
  it('stops at the bound', async () => {
    let pulled = 0;
    const endless = Readable.from(
      (function* () {
        for (;;) {
          pulled++;
          yield Buffer.alloc(1024, 'a');
        }
      })(),
    );
    await expect(readHelperInput(endless, 4096)).rejects.toMatchObject({ code: 'input_too_large' });
    expect(pulled).toBeLessThan(10);
  });
  it('refuses bytes that are not UTF-8', async () => {
    await expect(readHelperInput(Readable.from([Buffer.from([0x68, 0xff, 0x0a])]))).rejects.toMatchObject({
      code: 'input_not_utf8',
    });
  });
});

const distHelper = resolve(import.meta.dirname, '../dist/credential_helpers/git.js');

describe('with real git', () => {
  let dir: string;
  let env: Record<string, string>;
  let log: string;

  beforeAll(() => {
    if (!existsSync(distHelper))
      throw new Error('build first (npm run build): the helper runs the built dist');
    dir = mkdtempSync(join(tmpdir(), 'clavis-git-credential-'));
    log = join(dir, 'calls.jsonl');
    const helper = join(dir, 'helper.mjs');
    writeFileSync(
      helper,
      `import { appendFileSync } from 'node:fs';
import { answerGitCredential } from ${JSON.stringify(distHelper)};
import { readHelperInput } from ${JSON.stringify(resolve(distHelper, '../read_input.js'))};
const action = process.argv[2];
const input = await readHelperInput(process.stdin);
appendFileSync(${JSON.stringify(log)}, JSON.stringify({ action, input }) + '\\n');
process.stdout.write(await answerGitCredential(action, input, {
  hosts: [{ host: 'git.example.test', username: 'clavis' }],
  getToken: async () => ({ token: process.env.FAKE_TOKEN, expiresAt: new Date(Date.now() + 3600_000) }),
}));
`,
    );
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: join(dir, 'gitconfig'),
      GIT_TERMINAL_PROMPT: '0',
      FAKE_TOKEN: token,
    };
    writeFileSync(
      env.GIT_CONFIG_GLOBAL as string,
      `[credential]\n\thelper = !'${process.execPath}' '${helper}'\n`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const git = (args: string[], input: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      const child = execFile('git', args, { env }, (error, stdout, stderr) => {
        done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      });
      child.stdin?.end(input);
    });

  it('git credential fill gets the token for a configured host', async () => {
    const result = await git(
      ['credential', 'fill'],
      'protocol=https\nhost=git.example.test\npath=org/repo.git\n\n',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^protocol=https\nhost=git.example.test\n(path=org/repo.git\n)?username=clavis\npassword=${token}\n`,
      ),
    );
    // What git really wrote to the helper parses to the request it was about.
    const calls = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const last = calls.at(-1);
    expect(last.action).toBe('get');
    expect(parseGitCredentialRequest(last.input)).toMatchObject({
      protocol: 'https',
      host: 'git.example.test',
    });
  });

  it('git credential fill for another host gets nothing from the helper, and git gives up', async () => {
    const result = await git(['credential', 'fill'], 'url=https://other.example.test/org/repo.git\n\n');
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toContain(token);
  });

  it('git credential approve and reject reach the helper, which keeps nothing and says nothing', async () => {
    const credential = `protocol=https\nhost=git.example.test\nusername=clavis\npassword=${token}\n\n`;
    expect(await git(['credential', 'approve'], credential)).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await git(['credential', 'reject'], credential)).toEqual({ code: 0, stdout: '', stderr: '' });
    const actions = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).action);
    expect(actions.slice(-2)).toEqual(['store', 'erase']);
  });
});
