/**
 * The wiring loads no run module: `clavis --help`, `--version`, a command's help and a flag error come
 * from commander and the CLI's own light modules, never from @clavis/server (fastify, kysely, pg, …),
 * which a command loads only when it runs. Checked on the built binary, with a module hook that records
 * every module the process resolves.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, initDatabase, type Scratch, scratch, spawnCli } from './support/cli.js';

/** What only running a command may load. */
const HEAVY =
  /\/packages\/server\/|\/node_modules\/(@clavis\/server|fastify|kysely|pg|jose|pino|@secretlint)\//;

/** The SDK's whole entry (jose, core, the keychain binding): only a command that needs a full client loads it. */
const SDK_FULL = /\/packages\/sdk\/dist\/(index|client)\.js$/;

const HOOK = `
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
const log = process.env.CLAVIS_TEST_IMPORT_LOG;
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    appendFileSync(log, result.url + '\\n');
    return result;
  },
});
`;

describe('what `clavis` loads', () => {
  let tmp: Scratch;
  let hook: string;
  let n = 0;

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    hook = join(tmp.dir, 'record_imports.mjs');
    writeFileSync(hook, HOOK);
  });
  afterAll(() => tmp.remove());

  /** Runs `clavis ARGV` with the hook; the exit code and every module URL it resolved. */
  async function loaded(argv: string[]): Promise<{ code: number; urls: string[] }> {
    const log = join(tmp.dir, `imports-${n++}.log`);
    writeFileSync(log, '');
    const res = await spawnCli(
      argv,
      childEnv({ NODE_OPTIONS: `--import ${pathToFileURL(hook).href}`, CLAVIS_TEST_IMPORT_LOG: log }),
    );
    return { code: res.code, urls: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  }

  it.each([
    { argv: ['--help'], code: 0 },
    { argv: ['--version'], code: 0 },
    { argv: ['admin', 'keys', 'create', '--help'], code: 0 },
    { argv: ['admin', 'federations', 'create', '--help'], code: 0 },
    { argv: ['admin', 'idps', 'create', '--help'], code: 0 },
    { argv: ['admin', 'idps', 'stale', '--help'], code: 0 },
    // The idps run module works on the operations' views: refusing its input loads no server.
    {
      argv: ['admin', '--server', 'https://clavis.example.test', 'idps', 'delete', 'corp'],
      code: 1,
    },
    {
      argv: [
        'admin',
        '--server',
        'https://clavis.example.test',
        'idps',
        'update',
        'corp',
        '--any-group',
        '--allowed-group',
        'x',
      ],
      code: 1,
    },
    { argv: ['admin', 'clients', 'update', '--help'], code: 0 },
    { argv: ['admin', 'clients', 'secrets', 'revoke', '--help'], code: 0 },
    { argv: ['admin', 'users', 'set-password', '--help'], code: 0 },
    { argv: ['admin', 'federations', 'test', '--help'], code: 0 },
    { argv: ['admin', 'keys', 'update', '--help'], code: 0 },
    { argv: ['serve', '--help'], code: 0 },
    { argv: ['login', '--help'], code: 0 },
    { argv: ['whoami', '--help'], code: 0 },
    { argv: ['token', '--help'], code: 0 },
    { argv: ['logout', '--help'], code: 0 },
    { argv: ['auth', 'git-credential', '--help'], code: 0 },
    { argv: ['auth', 'docker-credential', '--help'], code: 0 },
    { argv: ['auth', 'kube-credential', '--help'], code: 0 },
    { argv: ['login', '--bogus'], code: 1 },
    { argv: ['admin', 'backup', '--help'], code: 0 },
    { argv: ['admin', 'posture', '--help'], code: 0 },
    { argv: ['admin', 'posture', '--fail-on', 'severe'], code: 1 },
    { argv: ['admin', 'signing-keys', 'rotate', '--help'], code: 0 },
    { argv: ['admin', 'kek', 'rotate', '--help'], code: 0 },
    { argv: ['admin', 'kek', 'status', '--help'], code: 0 },
    { argv: ['admin', 'kek', 'retire-hashes', 'x'], code: 1 },
    { argv: ['help', 'environment'], code: 0 },
    { argv: ['scan', '--help'], code: 0 },
    { argv: ['scan', '--bogus'], code: 3 },
    { argv: ['admin', 'init', '--help'], code: 0 },
    { argv: ['admin', 'audit', 'list', '--help'], code: 0 },
    { argv: ['admin', 'audit', 'export', '--help'], code: 0 },
    { argv: ['admin', 'audit', 'archive', '--help'], code: 0 },
    { argv: ['admin', 'audit', 'prune', '--help'], code: 0 },
    { argv: ['admin', 'audit', 'list', '--since', 'yesterday'], code: 1 },
    { argv: ['admin', 'clients', 'craete'], code: 1 },
    { argv: ['admin', 'clients', 'create', '--name', 'x', '--kind', 'other'], code: 1 },
    { argv: ['advise', '--help'], code: 0 },
    { argv: ['advise', '--actor', 'robot'], code: 1 },
    // advise runs on the table in core and the SDK's context detection alone.
    { argv: ['advise', '--actor', 'human', '--json'], code: 0 },
    { argv: ['advise', '--detect'], code: 0 },
  ])('clavis $argv: exit $code without loading the server', async ({ argv, code }) => {
    const res = await loaded(argv);
    expect(res.code).toBe(code);
    expect(res.urls.some((url) => url.includes('/packages/cli/dist/main.js'))).toBe(true);
    expect(res.urls.filter((url) => HEAVY.test(url))).toEqual([]);
    expect(res.urls.filter((url) => SDK_FULL.test(url))).toEqual([]);
  });

  it('`clavis token` with a fresh stored login loads neither commander nor the SDK entry, only node:fs', async () => {
    const { LoginStore } = await import('@clavis/sdk');
    const env = { XDG_CONFIG_HOME: join(tmp.dir, 'config'), HOME: tmp.dir };
    const now = Date.now();
    await new LoginStore({ env, keychain: null, warn: () => {} }).save({
      issuer: 'https://clavis.example.test',
      clientId: 'clavis-cli',
      sub: 'usr_1',
      accessToken: 'header.payload.signature',
      obtainedAt: now,
      expiresAt: now + 3600_000,
      scopes: [],
    });
    const log = join(tmp.dir, `imports-${n++}.log`);
    writeFileSync(log, '');
    const res = await spawnCli(
      ['token', '--server', 'https://clavis.example.test'],
      childEnv({ ...env, NODE_OPTIONS: `--import ${pathToFileURL(hook).href}`, CLAVIS_TEST_IMPORT_LOG: log }),
    );
    expect(res).toMatchObject({ code: 0, stdout: 'header.payload.signature\n' });
    const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    expect(urls.some((url) => url.endsWith('/packages/sdk/dist/cached_login.js'))).toBe(true);
    expect(
      urls.filter((url) => /\/node_modules\/(commander|jose|@napi-rs)\/|\/packages\/core\//.test(url)),
    ).toEqual([]);
    expect(urls.filter((url) => SDK_FULL.test(url) || HEAVY.test(url) || url.endsWith('/main.js'))).toEqual(
      [],
    );
  });

  it('a command that runs loads its run module and the server (the check above can see them)', async () => {
    const res = await loaded(['admin', '--db', tmp.dbUrl, 'clients', 'list', '--json']);
    expect(res.code).toBe(0);
    expect(res.urls.some((url) => url.endsWith('/packages/cli/dist/commands/admin/clients_run.js'))).toBe(
      true,
    );
    expect(res.urls.some((url) => HEAVY.test(url))).toBe(true);
  });
});
