/**
 * The SDK's pure pieces and its local state: command-line splitting, context detection, RFC 6750
 * challenges, the renew-ahead rule, the refresh lock's stale rules, the store on this machine's real
 * keychain (or its absence), and the README's error table kept in step with the code.
 */
import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  bearerError,
  clavisErrorCodes,
  detectContext,
  type Keychain,
  KeychainUnavailable,
  LoginStore,
  needsRenewal,
  osKeychain,
  readConfig,
  type StoredLogin,
  splitCommandLine,
  whoamiJson,
  withFileLock,
} from '@clavis/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SDK_VERSION, sdkUserAgent } from '../src/user_agent.js';
import { type Scratch, scratch } from './support/env.js';

describe('splitCommandLine', () => {
  it.each([
    ['vault kv get -field=key secret/ci', ['vault', 'kv', 'get', '-field=key', 'secret/ci']],
    [`op read "op://CI/clavis key/credential"`, ['op', 'read', 'op://CI/clavis key/credential']],
    [`a 'b c' d\\ e "f\\"g" 'h\\i'`, ['a', 'b c', 'd e', 'f"g', 'h\\i']],
    [`a "" ''`, ['a', '', '']],
    [`echo $HOME; rm -rf / | cat > x`, ['echo', '$HOME;', 'rm', '-rf', '/', '|', 'cat', '>', 'x']],
    ['  spaced\t\targs  ', ['spaced', 'args']],
  ])('%s', (line, argv) => {
    expect(splitCommandLine(line)).toEqual(argv);
  });

  it.each(['', '   ', `a "b`, `a 'b`, 'a \\'])('refuses %j', (line) => {
    expect(() => splitCommandLine(line)).toThrow(expect.objectContaining({ code: 'invalid_configuration' }));
  });
});

describe('sdkUserAgent', () => {
  it("names the SDK by its package's version, and the CI vendor when in CI", async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(SDK_VERSION).toBe(pkg.version);
    expect(sdkUserAgent({ ci: null })).toBe(`clavis-sdk/${pkg.version}`);
    expect(sdkUserAgent({ ci: 'gitlab-ci' })).toBe(`clavis-sdk/${pkg.version} ci/gitlab-ci`);
  });
});

describe('detectContext', () => {
  const tty = { stdinIsTTY: true, stderrIsTTY: true, fileExists: () => false };
  it.each([
    [{ GITHUB_ACTIONS: 'true' }, 'github-actions'],
    [{ GITLAB_CI: 'true' }, 'gitlab-ci'],
    [{ BUILDKITE: 'true' }, 'buildkite'],
    [{ CIRCLECI: 'true' }, 'circleci'],
    [{ TF_BUILD: 'True' }, 'azure-pipelines'],
    [{ JENKINS_URL: 'https://ci/' }, 'jenkins'],
    [{ CI: 'true' }, 'ci'],
    [{ CI: 'false' }, null],
    [{}, null],
  ])('%j is %s', (env, vendor) => {
    expect(detectContext(env, tty).ci).toBe(vendor);
  });

  it('a terminal needs both stdin and stderr', () => {
    expect(detectContext({}, tty).interactive).toBe(true);
    expect(detectContext({}, { ...tty, stdinIsTTY: false }).interactive).toBe(false);
    expect(detectContext({}, { ...tty, stderrIsTTY: false }).interactive).toBe(false);
  });

  it('a browser: a desktop, or a display; over SSH only with a display', () => {
    expect(detectContext({}, { ...tty, platform: 'darwin' })).toMatchObject({ browser: true, ssh: false });
    expect(detectContext({}, { ...tty, platform: 'linux' }).browser).toBe(false);
    expect(detectContext({ DISPLAY: ':0' }, { ...tty, platform: 'linux' }).browser).toBe(true);
    expect(detectContext({ SSH_CONNECTION: '1 2 3 4' }, { ...tty, platform: 'darwin' })).toMatchObject({
      ssh: true,
      browser: false,
    });
    expect(
      detectContext({ SSH_TTY: '/dev/pts/1', DISPLAY: 'localhost:10' }, { ...tty, platform: 'linux' })
        .browser,
    ).toBe(true);
  });

  it('Kubernetes: the service host and a token file (the default or CLAVIS_K8S_TOKEN_FILE)', () => {
    const files: string[] = [];
    const fileExists = (path: string) => {
      files.push(path);
      return true;
    };
    expect(detectContext({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, { ...tty, fileExists }).kubernetes).toBe(
      true,
    );
    expect(files).toEqual(['/var/run/secrets/kubernetes.io/serviceaccount/token']);
    expect(
      detectContext(
        { KUBERNETES_SERVICE_HOST: '10.0.0.1', CLAVIS_K8S_TOKEN_FILE: '/t' },
        { ...tty, fileExists },
      ).kubernetesTokenFile,
    ).toBe('/t');
    expect(detectContext({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, tty).kubernetes).toBe(false);
    expect(detectContext({}, { ...tty, fileExists }).kubernetes).toBe(false);
  });
});

describe('bearerError (RFC 6750 §3)', () => {
  it('reads the Bearer challenge among others', () => {
    const err = bearerError('Basic realm="x", Bearer realm="api", error="insufficient_scope", scope="a b"');
    expect(err).toMatchObject({ code: 'insufficient_scope', status: 403 });
    expect(bearerError('Bearer error=invalid_token')).toMatchObject({ code: 'invalid_token', status: 401 });
    expect(
      bearerError('Bearer error="invalid_request", error_description="a \\"quoted\\" word"'),
    ).toMatchObject({
      code: 'invalid_request',
      description: 'a "quoted" word',
    });
  });
  it.each([null, '', 'Bearer realm="api"', 'Basic error="invalid_token"', 'Bearer error="something_else"'])(
    'no typed error for %j',
    (header) => {
      expect(bearerError(header)).toBeUndefined();
    },
  );
});

describe('needsRenewal', () => {
  it('renews in the last minute, or the last tenth of a short lifetime', () => {
    const obtained = 0;
    expect(needsRenewal({ expiresAt: 600_000 }, obtained, 539_000)).toBe(false);
    expect(needsRenewal({ expiresAt: 600_000 }, obtained, 540_000)).toBe(true);
    expect(needsRenewal({ expiresAt: 100_000 }, obtained, 89_000)).toBe(false);
    expect(needsRenewal({ expiresAt: 100_000 }, obtained, 90_000)).toBe(true);
    expect(needsRenewal({ expiresAt: null }, obtained, 1e15)).toBe(false);
  });
});

describe('withFileLock', () => {
  let s: Scratch;
  beforeAll(async () => {
    s = await scratch();
  });
  afterAll(() => s.cleanup());

  it('takes over a lock whose holder is dead', async () => {
    const path = join(s.dir, 'dead.lock');
    const dead = spawnSync(process.execPath, [
      '-e',
      'process.stdout.write(String(process.pid))',
    ]).stdout.toString();
    await writeFile(path, JSON.stringify({ pid: Number(dead), time: Date.now() }));
    expect(await withFileLock(path, async () => 'ran', { timeoutMs: 1000 })).toBe('ran');
    await expect(stat(path)).rejects.toThrow();
  });

  it('takes over a lock older than staleMs, even a live holder', async () => {
    const path = join(s.dir, 'old.lock');
    await writeFile(path, JSON.stringify({ pid: process.ppid, time: Date.now() - 60_000 }));
    expect(await withFileLock(path, async () => 'ran', { staleMs: 30_000, timeoutMs: 1000 })).toBe('ran');
  });

  it('waits for a live, fresh holder, then gives up with lock_timeout', async () => {
    const path = join(s.dir, 'held.lock');
    await writeFile(path, JSON.stringify({ pid: process.ppid, time: Date.now() }));
    let clock = Date.now();
    const sleeps: number[] = [];
    await expect(
      withFileLock(path, async () => 'ran', {
        timeoutMs: 1000,
        now: () => clock,
        sleep: async (ms) => {
          sleeps.push(ms);
          clock += ms;
        },
      }),
    ).rejects.toMatchObject({ code: 'lock_timeout' });
    expect(sleeps.length).toBeGreaterThan(5);
  });

  it('serialises concurrent holders in one process', async () => {
    const path = join(s.dir, 'serial.lock');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        withFileLock(path, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 20));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});

describe('the login store on this machine', () => {
  let s: Scratch;
  beforeAll(async () => {
    s = await scratch();
  });
  afterAll(() => s.cleanup());

  const login = (issuer: string, sub: string): StoredLogin => ({
    issuer,
    clientId: 'clavis-cli',
    sub,
    accessToken: `at-${sub}`,
    expiresAt: Date.now() + 600_000,
    obtainedAt: Date.now(),
    scopes: ['openid'],
    refreshToken: `clvr_${sub}`,
  });

  it('falls back to an announced 0600 file when the OS keychain does not answer; servers side by side', async () => {
    const keychainAnswers = await osKeychain('clavis-sdk-test')
      .set('probe', 'x')
      .then(() => true)
      .catch(() => false);
    const warnings: string[] = [];
    const store = new LoginStore({ env: s.env, warn: (line) => warnings.push(line) });
    const a = await store.save(login('https://a.example.com', 'usr_a'));
    const b = await store.save(login('https://b.example.com', 'usr_b'));
    if (keychainAnswers) {
      expect([a, b]).toEqual(['keychain', 'keychain']);
    } else {
      expect([a, b]).toEqual(['file', 'file']);
      expect(warnings).toHaveLength(1);
      const file = join(store.dir, 'credentials.json');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(store.dir)).mode & 0o777).toBe(0o700);
      expect(Object.keys(JSON.parse(await readFile(file, 'utf8')))).toHaveLength(2);
    }
    expect((await store.load('https://a.example.com', 'clavis-cli'))?.login.sub).toBe('usr_a');
    expect((await store.load('https://b.example.com', 'clavis-cli'))?.login.sub).toBe('usr_b');
    expect((await readConfig(s.env)).last_server).toBe('https://b.example.com');

    // A different person logging in to a server replaces that server's login.
    const found = await store.load('https://a.example.com', 'clavis-cli');
    await store.save(login('https://a.example.com', 'usr_c'), found);
    expect((await store.load('https://a.example.com', 'clavis-cli'))?.login.sub).toBe('usr_c');
    if (!keychainAnswers) {
      const entries = JSON.parse(await readFile(join(store.dir, 'credentials.json'), 'utf8')) as object;
      expect(Object.keys(entries).some((k) => k.includes('usr_a'))).toBe(false);
    }
  });

  it('logins of many servers stored at once are all kept', async () => {
    const other = await scratch();
    try {
      const issuers = Array.from({ length: 8 }, (_, i) => `https://s${i}.example.com`);
      await Promise.all(
        issuers.map((issuer) =>
          new LoginStore({ env: other.env, keychain: null, warn: () => {} }).save(login(issuer, 'usr_x')),
        ),
      );
      const store = new LoginStore({ env: other.env, keychain: null });
      for (const issuer of issuers) expect((await store.load(issuer, 'clavis-cli'))?.login.sub).toBe('usr_x');
    } finally {
      await other.cleanup();
    }
  });

  it('with a keychain that answers, the login goes there and nowhere else; one that refuses falls back', async () => {
    const other = await scratch();
    try {
      const entries = new Map<string, string>();
      const keychain: Keychain = {
        get: async (account) => entries.get(account) ?? null,
        set: async (account, secret) => void entries.set(account, secret),
        delete: async (account) => void entries.delete(account),
      };
      const warnings: string[] = [];
      const store = new LoginStore({ env: other.env, keychain, warn: (line) => warnings.push(line) });
      expect(await store.save(login('https://a.example.com', 'usr_a'))).toBe('keychain');
      expect([...entries.keys()]).toEqual(['https://a.example.com clavis-cli usr_a']);
      await expect(stat(join(store.dir, 'credentials.json'))).rejects.toThrow();
      expect(warnings).toEqual([]);
      const found = await store.load('https://a.example.com', 'clavis-cli');
      expect(found).toMatchObject({ store: 'keychain', login: { sub: 'usr_a', refreshToken: 'clvr_usr_a' } });
      await store.remove(found as NonNullable<typeof found>);
      expect(entries.size).toBe(0);
      expect(await store.load('https://a.example.com', 'clavis-cli')).toBeUndefined();

      const refusing: Keychain = {
        ...keychain,
        set: async () => {
          throw new KeychainUnavailable();
        },
      };
      const fallback = new LoginStore({
        env: other.env,
        keychain: refusing,
        warn: (line) => warnings.push(line),
      });
      expect(await fallback.save(login('https://b.example.com', 'usr_b'))).toBe('file');
      expect(warnings).toHaveLength(1);
    } finally {
      await other.cleanup();
    }
  });

  it('a malformed store or config reads as no login', async () => {
    const other = await scratch();
    try {
      const store = new LoginStore({ env: other.env, keychain: null, warn: () => {} });
      await store.save(login('https://a.example.com', 'usr_a'));
      await writeFile(join(store.dir, 'credentials.json'), '{"not":');
      expect(await store.load('https://a.example.com', 'clavis-cli')).toBeUndefined();
      await writeFile(join(store.dir, 'config.json'), '[1,2]');
      expect(await readConfig(other.env)).toEqual({ logins: {} });
    } finally {
      await other.cleanup();
    }
  });
});

describe('whoamiJson', () => {
  it('prints what DESIGN.md pins for a person and for a service', () => {
    expect(
      whoamiJson({
        principal: { sub: 'usr_1', username: 'ada', clientId: 'clavis-cli' },
        source: 'login',
        scopes: ['openid'],
        expiresAt: Date.UTC(2026, 0, 1),
        store: 'file',
      }),
    ).toEqual({
      sub: 'usr_1',
      username: 'ada',
      scopes: ['openid'],
      expires_at: '2026-01-01T00:00:00.000Z',
      source: 'login',
      store: 'file',
    });
    expect(
      whoamiJson({
        principal: { sub: 'svc_1', clientId: 'svc_1' },
        source: 'private_key',
        scopes: [],
        expiresAt: null,
        store: 'none',
      }),
    ).toEqual({
      sub: 'svc_1',
      client_id: 'svc_1',
      scopes: [],
      expires_at: null,
      source: 'private_key',
      store: 'none',
    });
  });
});

describe('the README', () => {
  it('documents every ClavisError code, and no other', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Errors'));
    const documented = [...table.matchAll(/^\| `([a-z_]+)` +\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(clavisErrorCodes).sort());
  });
});
