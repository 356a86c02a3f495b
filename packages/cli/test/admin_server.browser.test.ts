/**
 * `clavis admin --server URL` against a real server (`startServer` on a temp SQLite file) as an
 * administrator who signed in with `clavis login --scope admin` (password and TOTP in Chromium): one
 * script of admin commands run once with `--db` on the server's database and once with `--server`,
 * whose outputs, exit codes and `--json` names must be the same once ids, secrets and times are
 * normalised (identity providers included, with an issuer that cannot be reached); posture and kek status
 * compared both ways at one moment. Then the refusals: no login, a person who is not an administrator, a login no longer
 * valid, a token the server refuses, a server that is down, the local-only commands.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/free_port.js';
import { jwksOf, newClientKey, signAssertion } from '../../../test/support/jwt.js';
import { PASSWORD } from '../../../test/support/users.js';
import { type CliResult, runCli, startCli, withSqlite } from './support/cli.js';
import {
  chromiumAvailable,
  type Home,
  home,
  LINK,
  launchChromium,
  Person,
  startTestServer,
  type TestServer,
  waitFor,
} from './support/people.js';

/** What one run of the script has learnt so far (ids it created), for the next commands. */
type Vars = Record<string, string>;

interface Step {
  argv: (v: Vars) => string[];
  stdin?: string;
  /** Keeps ids from the step's `--json` output. */
  capture?: (json: unknown, v: Vars) => void;
}

/** Equal-length tags, so that names pad the same in both runs' columns. */
const TAGS = { db: 'qdb', server: 'qsv' } as const;

const GITHUB = 'https://token.actions.githubusercontent.com';

describe.runIf(chromiumAvailable())('clavis admin --server', { timeout: 180_000 }, () => {
  let browser: Browser;
  let server: TestServer;
  let dbEnv: Record<string, string>;
  let admin: Home;
  let aliceId: string;
  let jwksFile: string;
  let workloadToken: string;
  const homes: Home[] = [];

  function fresh(): Home {
    const h = home();
    homes.push(h);
    return h;
  }

  /** `clavis login --server URL --scope admin`, approved in the browser by `who`. */
  async function login(h: Home, who: Person): Promise<string> {
    const run = startCli(['login', '--server', server.issuer, '--scope', 'admin'], h.env);
    const [, link] = await waitFor(() => run.out.stderr, LINK);
    await who.approve(browser, link as string);
    const { code } = await run.exited;
    expect(code, run.out.stderr).toBe(0);
    return run.out.stderr;
  }

  beforeAll(async () => {
    browser = await launchChromium();
    server = await startTestServer();
    dbEnv = {
      CLAVIS_DB: `sqlite:${join(server.dir, 'clavis.db')}`,
      CLAVIS_KEK_FILE: join(server.dir, 'clavis.kek'),
    };
    // An administrator with a second factor, made with the CLI on the database, signs in over the device flow.
    const created = await runCli(
      ['admin', 'users', 'create', 'alice', '--admin', '--totp', '--password-stdin', '--json'],
      { env: dbEnv, stdin: PASSWORD },
    );
    expect(created.code, created.stderr).toBe(0);
    const alice = JSON.parse(created.stdout) as { id: string; totp_secret: string };
    aliceId = alice.id;
    admin = fresh();
    expect(await login(admin, new Person('alice', alice.totp_secret))).not.toContain('Not granted');

    const key = await newClientKey('RS256');
    jwksFile = join(admin.dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify(jwksOf(key)));
    const now = Math.floor(Date.now() / 1000);
    workloadToken = await signAssertion(key, {
      iss: GITHUB,
      aud: 'https://clavis.test',
      sub: 'repo:acme/app:environment:prod',
      repository: 'acme/app',
      repository_owner: 'acme',
      environment: 'prod',
      iat: now,
      nbf: now,
      exp: now + 3600,
      jti: 'job-1',
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    for (const h of homes) h.remove();
  });

  /** The same commands, whichever way they reach the server; `t` tags the names this run creates. */
  function script(t: string): Step[] {
    const keep =
      (name: string, field = 'id') =>
      (json: unknown, v: Vars) => {
        const item = (Array.isArray(json) ? json[0] : json) as Record<string, unknown>;
        v[name] = item[field] as string;
      };
    return [
      {
        argv: () => [
          'clients',
          'create',
          '--name',
          `svc-${t}`,
          '--kind',
          'confidential',
          '--scope',
          'read',
          '--json',
        ],
        capture: keep('client', 'client_id'),
      },
      {
        argv: () => ['clients', 'create', '--name', `web-${t}`, '--kind', 'confidential', '--scope', 'read'],
      },
      { argv: () => ['clients', 'list'] },
      { argv: () => ['clients', 'list', '--json'] },
      { argv: (v) => ['clients', 'show', v.client as string] },
      { argv: (v) => ['clients', 'show', v.client as string, '--json'] },
      {
        argv: (v) => [
          'clients',
          'update',
          v.client as string,
          '--name',
          `svc2-${t}`,
          '--scope',
          'read',
          '--scope',
          'write',
          '--token-ttl',
          '10m',
        ],
      },
      { argv: (v) => ['clients', 'disable', v.client as string, '--yes'] },
      { argv: (v) => ['clients', 'enable', v.client as string, '--json'] },
      { argv: (v) => ['clients', 'rotate-secret', v.client as string, '--grace', '1h'] },
      { argv: (v) => ['clients', 'secrets', 'list', v.client as string] },
      { argv: (v) => ['clients', 'secrets', 'list', v.client as string, '--json'], capture: keep('secret') },
      {
        argv: (v) => [
          'clients',
          'secrets',
          'revoke',
          v.client as string,
          v.secret as string,
          '--yes',
          '--json',
        ],
      },
      {
        argv: () => ['clients', 'create', '--name', `tmp-${t}`, '--kind', 'public', '--json'],
        capture: keep('tmp', 'client_id'),
      },
      { argv: (v) => ['clients', 'delete', v.tmp as string, '--yes'] },
      { argv: (v) => ['clients', 'show', v.tmp as string] },
      { argv: () => ['clients', 'show', 'svc_doesnotexist00'] },

      { argv: () => ['users', 'create', `bob-${t}`, '--password-stdin'], stdin: PASSWORD },
      { argv: () => ['users', 'list'] },
      { argv: () => ['users', 'list', '--json'] },
      { argv: () => ['users', 'set-scopes', `bob-${t}`, '--scope', 'read', '--scope', 'write', '--json'] },
      { argv: () => ['users', 'set-scopes', `bob-${t}`, '--scope', 'read'] },
      { argv: () => ['users', 'sessions', `bob-${t}`] },
      { argv: () => ['users', 'sessions', `bob-${t}`, '--json'] },
      { argv: () => ['users', 'show', `bob-${t}`] },
      { argv: () => ['users', 'sessions', 'alice'] },
      { argv: () => ['users', 'set-password', `bob-${t}`, '--password-stdin'], stdin: `${PASSWORD}2` },
      { argv: () => ['users', 'disable', `bob-${t}`, '--yes'] },
      { argv: () => ['users', 'enable', `bob-${t}`, '--json'] },
      { argv: () => ['users', 'unlock', `bob-${t}`] },
      { argv: () => ['users', 'reset-mfa', `bob-${t}`, '--json'] },
      { argv: () => ['users', 'revoke-sessions', `bob-${t}`, '--yes', '--json'] },
      { argv: () => ['users', 'create', `bob-${t}`, '--password-stdin'], stdin: PASSWORD },

      {
        argv: (v) => [
          'keys',
          'create',
          '--owner',
          v.client as string,
          '--scope',
          'read',
          '--ttl',
          '1h',
          '--json',
        ],
        capture: keep('key'),
      },
      { argv: (v) => ['keys', 'create', '--owner', v.client as string, '--scope', 'read', '--ttl', '2h'] },
      { argv: () => ['keys', 'list'] },
      { argv: (v) => ['keys', 'update', v.key as string, '--max-uses', '5', '--rate-limit', '10'] },
      { argv: (v) => ['keys', 'show', v.key as string, '--json'] },
      {
        argv: (v) => ['keys', 'rotate', v.key as string, '--grace', '5m', '--json'],
        capture: keep('rotated'),
      },
      { argv: (v) => ['keys', 'revoke', v.rotated as string, '--yes'] },
      { argv: () => ['keys', 'list', '--all', '--json'] },

      {
        argv: (v) => [
          'federations',
          'create',
          '--client',
          v.client as string,
          '--preset',
          'github-actions',
          '--audience',
          'https://clavis.test',
          '--claim',
          'repository=acme/app',
          '--claim',
          'environment=prod',
          '--jwks-file',
          jwksFile,
          '--name',
          `deploy-${t}`,
          '--json',
        ],
        capture: keep('federation'),
      },
      { argv: () => ['federations', 'list'] },
      {
        argv: (v) => [
          'federations',
          'update',
          v.federation as string,
          '--claim',
          'repository=acme/app',
          '--claim',
          'environment=prod*',
          '--max-ttl',
          '5m',
        ],
      },
      { argv: (v) => ['federations', 'show', v.federation as string] },
      { argv: (v) => ['federations', 'test', v.federation as string, workloadToken] },
      { argv: (v) => ['federations', 'test', v.federation as string, 'not-a-token', '--json'] },
      { argv: (v) => ['federations', 'disable', v.federation as string, '--yes'] },
      { argv: (v) => ['federations', 'enable', v.federation as string, '--json'] },
      { argv: (v) => ['federations', 'delete', v.federation as string, '--yes'] },
      { argv: () => ['federations', 'list', '--json'] },

      { argv: () => ['signing-keys', 'list'] },
      { argv: () => ['signing-keys', 'list', '--json'] },

      // An issuer that does not exist (.invalid never resolves): creating a provider must not contact it.
      {
        argv: () => [
          'idps',
          'create',
          '--name',
          `sso-${t}`,
          '--issuer',
          `https://sso-${t}.invalid`,
          '--client-id',
          'clavis',
          '--client-secret-stdin',
          '--allowed-group',
          'staff',
          '--json',
        ],
        stdin: 'upstream-secret',
        capture: keep('idp'),
      },
      { argv: () => ['idps', 'list'] },
      { argv: () => ['idps', 'list', '--json'] },
      { argv: () => ['idps', 'show', `sso-${t}`] },
      { argv: (v) => ['idps', 'show', v.idp as string, '--json'] },
      {
        argv: (v) => ['idps', 'update', v.idp as string, '--session-lifetime', '4h', '--scope', 'groups'],
      },
      {
        argv: (v) => ['idps', 'update', v.idp as string, '--any-group', '--client-secret-stdin', '--json'],
        stdin: 'rotated-secret',
      },
      { argv: (v) => ['idps', 'link', v.idp as string, '--user', `bob-${t}`, '--subject', `sub-${t}`] },
      { argv: (v) => ['idps', 'links', v.idp as string] },
      { argv: (v) => ['idps', 'links', v.idp as string, '--json'] },
      { argv: (v) => ['idps', 'stale', v.idp as string, '--days', '30'] },
      { argv: (v) => ['idps', 'unlink', v.idp as string, '--subject', `sub-${t}`, '--yes', '--json'] },
      { argv: (v) => ['idps', 'delete', v.idp as string, '--yes'] },
      { argv: (v) => ['idps', 'show', v.idp as string] },
    ];
  }

  /** Runs the script; every step's result, and the ids the run created (to leave out of the other's lists). */
  async function runScript(
    via: 'db' | 'server',
    env: Record<string, string>,
  ): Promise<{ results: CliResult[]; vars: Vars }> {
    const vars: Vars = {};
    const results: CliResult[] = [];
    const target = via === 'db' ? [] : ['--server', server.issuer];
    for (const step of script(TAGS[via])) {
      const argv = ['admin', ...target, ...step.argv(vars)];
      const result = await runCli(argv, { env, ...(step.stdin ? { stdin: step.stdin } : {}) });
      if (step.capture) {
        expect(result.code, `${argv.join(' ')}: ${result.stderr}`).toBe(0);
        step.capture(JSON.parse(result.stdout), vars);
      }
      results.push(result);
    }
    return { results, vars };
  }

  /**
   * A run's output with what legitimately differs made equal: its own tag, the other run's objects (in
   * a listing), ids (numbered in order of appearance, so that the same id stays the same placeholder),
   * secrets and times.
   */
  function normalise(results: CliResult[], other: string[]): string[] {
    const ids = new Map<string, string>();
    const idPattern = /\b(usr|fed|sec|fam|key|svc|cli|seg|dev|idp)_[A-Za-z0-9_-]{8,}/g;
    const text = (s: string): string =>
      s
        .replace(new RegExp(`\\b(admin:|user:)?(os:[^\\s"]+|${aliceId})`, 'g'), '<actor>')
        // The API records where a change came from; in this process there is no address.
        .replace(/"created_from": "127\.0\.0\.1"/g, '"created_from": null')
        .replace(/^(created_from +)127\.0\.0\.1$/gm, '$1-')
        .replace(/\bclv[a-z]?_[A-Za-z0-9_-]{20,}/g, '<secret>')
        .replace(idPattern, (id, prefix: string) => {
          if (!ids.has(id)) ids.set(id, `${prefix}#${ids.size}`.padEnd(id.length, '.'));
          return ids.get(id) as string;
        })
        .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, (t) => '<time>'.padEnd(t.length, '.'))
        .replace(/q(db|sv)/g, 'qXX');
    const isOther = (s: string): boolean => other.some((o) => s.includes(o));
    const stdout = (out: string): string => {
      let value: unknown;
      try {
        value = JSON.parse(out);
      } catch {
        return out
          .split('\n')
          .filter((line) => !isOther(line))
          .join('\n');
      }
      if (!Array.isArray(value)) return out;
      return `${JSON.stringify(
        value.filter((item) => !isOther(JSON.stringify(item))),
        null,
        2,
      )}\n`;
    };
    return results.map((r) => text(`exit ${r.code}\n--- stdout\n${stdout(r.stdout)}--- stderr\n${r.stderr}`));
  }

  it('gives the same output, --json names and exit codes with --db and with --server', async () => {
    const local = await runScript('db', dbEnv);
    const remote = await runScript('server', admin.env);
    const localIds = [...Object.values(local.vars), TAGS.db];
    const remoteIds = [...Object.values(remote.vars), TAGS.server];
    // Who made a change differs, as it should: the operator's OS account, or the signed-in administrator.
    const expected = normalise(local.results, remoteIds);
    const actual = normalise(remote.results, localIds);
    const steps = script('t').map((s) => s.argv({}).slice(0, 3).join(' '));
    for (const [i, want] of expected.entries()) {
      expect.soft(actual[i], `step ${i}: ${steps[i]}`).toBe(want);
    }
    // The script did something: creates succeeded, the missing client was refused with exit 1.
    expect(local.results[0]?.code).toBe(0);
    expect(local.results.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([
      expect.stringMatching(/^clavis: no client cli_/),
      'clavis: no client svc_doesnotexist00\n',
      'clavis: a user named bob-qdb already exists\n',
      expect.stringMatching(/^clavis: the token does not pass federation fed_[\w-]+: token_format\n$/),
      expect.stringMatching(/^clavis: no identity provider idp_/),
    ]);
    // The client secret of a provider is never shown, either way.
    for (const r of [...local.results, ...remote.results]) {
      expect(r.stdout).not.toMatch(/upstream-secret|rotated-secret/);
    }

    // Every create went with an Idempotency-Key of its own.
    const keys = withSqlite(join(server.dir, 'clavis.db'), (db) =>
      db.prepare('select key from idempotency_keys').all(),
    ) as Array<{ key: string }>;
    expect(keys.length).toBeGreaterThanOrEqual(7);
    expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);

    // The audit log: the same records, each charged to who made the change (the operator's OS account
    // with --db, the signed-in administrator with --server).
    const audit = async (via: 'db' | 'server', client: string) => {
      const res = await runCli(
        [
          'admin',
          ...(via === 'server' ? ['--server', server.issuer] : []),
          'audit',
          'list',
          '--client',
          client,
          '--json',
        ],
        { env: via === 'db' ? dbEnv : admin.env },
      );
      expect(res.code, res.stderr).toBe(0);
      return JSON.parse(res.stdout) as Array<Record<string, unknown>>;
    };
    const localAudit = await audit('db', local.vars.client as string);
    const remoteAudit = await audit('server', remote.vars.client as string);
    const events = (records: Array<Record<string, unknown>>) =>
      records.map((r) => `${r.event} ${r.outcome}`).filter((e) => !e.startsWith('admin_api.'));
    expect(events(remoteAudit)).toEqual(events(localAudit));
    expect(events(localAudit)).toContain('client.create success');
    const changes = (records: Array<Record<string, unknown>>) =>
      records.filter((r) => r.event === 'client.create');
    expect(changes(localAudit)[0]).toMatchObject({ actor_type: 'admin' });
    expect(changes(remoteAudit)[0]).toMatchObject({ actor_type: 'user', actor_name: 'alice' });
    expect(Object.keys(remoteAudit[0] ?? {}).sort()).toEqual(Object.keys(localAudit[0] ?? {}).sort());
  });

  it('posture and kek status say the same both ways', async () => {
    const both = async (...argv: string[]) => {
      const local = await runCli(['admin', ...argv], { env: dbEnv });
      const remote = await runCli(['admin', '--server', server.issuer, ...argv], { env: admin.env });
      return { local, remote };
    };
    const time = (r: CliResult) => ({
      ...r,
      stdout: r.stdout.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>'),
    });
    const json = await both('posture', '--json', '--rotation-age', '1h', '--unused', '2d');
    expect(json.local.code, json.local.stderr).toBe(0);
    expect(time(json.remote)).toEqual(time(json.local));
    const report = JSON.parse(json.local.stdout) as { policy: unknown; findings: unknown[] };
    expect(report.policy).toMatchObject({ rotation_age: '1h', unused: '2d' });
    expect(report.findings.length).toBeGreaterThan(0);
    // Text is rendered on this machine from the same JSON.
    const text = await both('posture');
    expect(text.remote).toEqual(text.local);
    const sarif = await both('posture', '--sarif');
    // SARIF says when the run ended.
    expect(time(sarif.remote)).toEqual(time(sarif.local));
    // --fail-on gates the same way: the report printed, then exit 1.
    const gate = await both('posture', '--fail-on', 'info');
    expect(gate.local.code).toBe(1);
    expect(gate.remote).toEqual(gate.local);

    const status = await both('kek', 'status');
    expect(status.local.code, status.local.stderr).toBe(0);
    expect(status.remote).toEqual(status.local);
    expect(status.local.stdout).toMatch(/^database under KEK \S+ \(the configured one\)$/m);
    const statusJson = await both('kek', 'status', '--json');
    expect(statusJson.remote).toEqual(statusJson.local);
    expect(Object.keys(JSON.parse(statusJson.local.stdout))).toEqual([
      'kek_in_use',
      'kek_configured',
      'rotation_pending',
      'hashing',
      'hashes_under_older_versions',
    ]);
    // The current version is not retired, either way: the same one line.
    const version = String(
      (JSON.parse(statusJson.local.stdout) as { hashing: Array<{ version: number }> }).hashing[0]?.version,
    );
    const retire = await both('kek', 'retire-hashes', version);
    expect(retire.local.code).toBe(1);
    expect(retire.remote).toEqual(retire.local);
  });

  it('audit list --follow polls the API: a change made meanwhile shows up, and --until ends it', async () => {
    const now = Date.now();
    const following = runCli(
      [
        'admin',
        '--server',
        server.issuer,
        'audit',
        'list',
        '--follow',
        '--event',
        'client.create',
        '--since',
        new Date(now).toISOString(),
        '--until',
        new Date(now + 8000).toISOString(),
        '--json',
      ],
      { env: admin.env },
    );
    const created = await runCli(
      ['admin', 'clients', 'create', '--name', 'followed', '--kind', 'public', '--json'],
      {
        env: dbEnv,
      },
    );
    expect(created.code, created.stderr).toBe(0);
    const clientId = (JSON.parse(created.stdout) as { client_id: string }).client_id;
    const res = await following;
    expect(res.code, res.stderr).toBe(0);
    const records = res.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; client_id: string });
    expect(records.map((r) => [r.event, r.client_id])).toEqual([['client.create', clientId]]);
  });

  it('audit list pages the same way: the same records, the same cursor, and it continues from it', async () => {
    const list = (via: 'db' | 'server', ...argv: string[]) =>
      runCli(
        [
          'admin',
          ...(via === 'server' ? ['--server', server.issuer] : []),
          'audit',
          'list',
          '--event',
          'client.create',
          ...argv,
        ],
        { env: via === 'db' ? dbEnv : admin.env },
      );
    for (const argv of [
      ['--limit', '2'],
      ['--limit', '2', '--json'],
    ]) {
      const local = await list('db', ...argv);
      expect(local.code, local.stderr).toBe(0);
      expect(local.stderr).toMatch(
        /^more records match: continue with --cursor \S+ \(or a larger --limit\)\n$/,
      );
      expect(await list('server', ...argv)).toEqual(local);
    }
    const first = await list('server', '--limit', '1', '--json');
    const cursor = /--cursor (\S+)/.exec(first.stderr)?.[1] as string;
    const next = await list('server', '--limit', '1', '--json', '--cursor', cursor);
    expect(next).toEqual(await list('db', '--limit', '1', '--json', '--cursor', cursor));
    const [a] = JSON.parse(first.stdout) as Array<{ hash: string }>;
    const [b] = JSON.parse(next.stdout) as Array<{ hash: string }>;
    expect(b?.hash).toBeDefined();
    expect(b?.hash).not.toBe(a?.hash);
  });

  it('a service principal granted admin administers with its private key (CLAVIS_SERVER alone)', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const h = fresh();
    const jwks = join(h.dir, 'ops.jwks.json');
    writeFileSync(
      jwks,
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'ops', alg: 'EdDSA' }] }),
    );
    const keyed = await runCli(
      [
        'admin',
        'clients',
        'create',
        '--name',
        'ops-bot',
        '--kind',
        'confidential',
        '--scope',
        'admin',
        '--jwks-file',
        jwks,
        '--json',
      ],
      { env: dbEnv },
    );
    expect(keyed.code, keyed.stderr).toBe(0);
    const keyFile = join(h.dir, 'ops.pem');
    writeFileSync(keyFile, await exportPKCS8(privateKey), { mode: 0o600 });
    const clientId = (JSON.parse(keyed.stdout) as { client_id: string }).client_id;
    const env = {
      ...h.env,
      CLAVIS_SERVER: server.issuer,
      CLAVIS_CLIENT_ID: clientId,
      CLAVIS_PRIVATE_KEY_FILE: keyFile,
    };
    const remote = await runCli(['admin', 'clients', 'show', clientId, '--json'], { env });
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote).toEqual(await runCli(['admin', 'clients', 'show', clientId, '--json'], { env: dbEnv }));
  });

  it('audit export gives the same lines both ways; audit verify checks the chain at the server', async () => {
    const until = new Date().toISOString();
    const local = await runCli(['admin', 'audit', 'export', '--until', until], { env: dbEnv });
    const remote = await runCli(['admin', '--server', server.issuer, 'audit', 'export', '--until', until], {
      env: admin.env,
    });
    expect(local.code, local.stderr).toBe(0);
    expect(remote).toEqual(local);
    expect(local.stdout.split('\n').length).toBeGreaterThan(10);

    const verified = await runCli(['admin', '--server', server.issuer, 'audit', 'verify', '--json'], {
      env: admin.env,
    });
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });
    const anchored = await runCli(
      ['admin', '--server', server.issuer, 'audit', 'verify', '--anchor', 'here.anchor'],
      { env: admin.env },
    );
    expect(anchored).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'clavis: --anchor reads a file on this machine: with --server the server checks its own anchor\n',
    });
  });

  describe('refusals', () => {
    const oneLine = (res: CliResult, code: number, line: string | RegExp) => {
      expect(res.stdout).toBe('');
      expect(res.code).toBe(code);
      expect(res.stderr.endsWith('\n')).toBe(true);
      expect(res.stderr.trimEnd()).not.toContain('\n');
      if (typeof line === 'string') expect(res.stderr).toBe(`clavis: ${line}\n`);
      else expect(res.stderr).toMatch(line);
    };

    it('without a login: says how to sign in, exit 4', async () => {
      const h = fresh();
      const res = await runCli(['admin', '--server', server.issuer, 'clients', 'list'], { env: h.env });
      oneLine(
        res,
        4,
        `not signed in to ${server.issuer}: run \`clavis login --server ${server.issuer} --scope admin\``,
      );
      // CLAVIS_SERVER alone names the server too.
      const viaEnv = await runCli(['admin', 'users', 'list'], {
        env: { ...h.env, CLAVIS_SERVER: server.issuer },
      });
      expect(viaEnv.code).toBe(4);
    });

    it('a person who is not an administrator: one line, exit 4, nothing done', async () => {
      const h = fresh();
      const { totpSecret } = await server.createUser('carol');
      // The login itself says that admin was asked for and withheld.
      const said = await login(h, new Person('carol', totpSecret));
      expect(said).toContain(
        `Logged in to ${server.issuer} as carol\nNot granted: admin (asked for with --scope;`,
      );
      const res = await runCli(
        ['admin', '--server', server.issuer, 'clients', 'create', '--name', 'x', '--kind', 'public'],
        {
          env: h.env,
        },
      );
      // The server gave carol's login no admin scope: said before any call.
      oneLine(
        res,
        4,
        `the login for ${server.issuer} lacks the admin scope (only an administrator gets it): run \`clavis login --server ${server.issuer} --scope admin\` as an administrator`,
      );
      // Her token given as it is (no scopes known here): the server refuses it, 403.
      const token = await runCli(['token', '--server', server.issuer], { env: h.env });
      expect(token.code, token.stderr).toBe(0);
      const forbidden = await runCli(
        ['admin', '--server', server.issuer, 'users', 'disable', 'alice', '--yes'],
        {
          env: { ...h.env, CLAVIS_TOKEN: token.stdout.trim() },
        },
      );
      oneLine(
        forbidden,
        4,
        `the account signed in to ${server.issuer} is not an administrator there (or its token lacks the admin scope: run \`clavis login --server ${server.issuer} --scope admin\`)`,
      );
      const listed = await runCli(['admin', 'clients', 'list', '--json'], { env: dbEnv });
      expect(listed.stdout).not.toContain('"name": "x"');
      const alice = await runCli(['admin', 'users', 'show', 'alice', '--json'], { env: dbEnv });
      expect(JSON.parse(alice.stdout)).toMatchObject({ disabled_at: null });
    });

    it('a token the server does not accept (forged or revoked): sign in again, exit 4', async () => {
      const h = fresh();
      const forged = `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.sig`;
      const res = await runCli(['admin', '--server', server.issuer, 'users', 'list'], {
        env: { ...h.env, CLAVIS_TOKEN: forged },
      });
      oneLine(
        res,
        4,
        `${server.issuer} no longer accepts this login (expired or revoked): run \`clavis login --server ${server.issuer} --scope admin\` again`,
      );
    });

    it('a login that expired and cannot be refreshed: not signed in, exit 4', async () => {
      const h = fresh();
      // alice's stored login, copied, then aged past its expiry with a refresh token the server never issued.
      const file = (x: Home) => join(x.env.XDG_CONFIG_HOME as string, 'clavis', 'credentials.json');
      const stored = JSON.parse(readFileSync(file(admin), 'utf8')) as unknown;
      const age = (value: unknown): void => {
        if (Array.isArray(value)) value.forEach(age);
        else if (value && typeof value === 'object') {
          const o = value as Record<string, unknown>;
          if (typeof o.accessToken === 'string') {
            o.expiresAt = Date.now() - 60_000;
            o.obtainedAt = Date.now() - 3_600_000;
            o.refreshToken = 'clvr_neverissuedneverissuedneverissued0000000';
          }
          Object.values(o).forEach(age);
        }
      };
      age(stored);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(h.env.XDG_CONFIG_HOME as string, 'clavis'), { recursive: true, mode: 0o700 });
      writeFileSync(file(h), JSON.stringify(stored), { mode: 0o600 });
      const res = await runCli(['admin', '--server', server.issuer, 'keys', 'list'], { env: h.env });
      oneLine(
        res,
        4,
        `not signed in to ${server.issuer}: run \`clavis login --server ${server.issuer} --scope admin\``,
      );
    });

    it('a server that is down: one line, exit 1', async () => {
      const h = fresh();
      const down = `http://127.0.0.1:${await freePort()}`;
      const res = await runCli(['admin', '--server', down, 'clients', 'list'], {
        env: { ...h.env, CLAVIS_TOKEN: 'any' },
      });
      oneLine(res, 1, `cannot reach ${down} (ECONNREFUSED)`);
    });

    it.each([
      [['init'], 'init'],
      [['backup', 'copy.db'], 'backup'],
      [['kek', 'rotate'], 'kek rotate'],
    ])('%j with --server is local-only: one line, exit 1', async (argv, name) => {
      const res = await runCli(['admin', '--server', server.issuer, ...argv], { env: admin.env });
      oneLine(
        res,
        1,
        `admin ${name} is local-only: it needs the database (and the key-encryption key) on this machine; use --db`,
      );
    });

    it('--db wins over --server given in the environment; both flags are refused', async () => {
      const listed = await runCli(['admin', '--db', dbEnv.CLAVIS_DB as string, 'users', 'list', '--json'], {
        env: { ...dbEnv, CLAVIS_SERVER: 'http://127.0.0.1:1' },
      });
      expect(listed.code, listed.stderr).toBe(0);
      const both = await runCli(
        ['admin', '--db', dbEnv.CLAVIS_DB as string, '--server', server.issuer, 'users', 'list'],
        { env: dbEnv },
      );
      oneLine(both, 1, 'give --db or --server, not both');
    });
  });

  it('a destructive change 15 minutes after signing in: sign in again, exit 4; reading still works', async () => {
    let offset = 0;
    const later = await startTestServer({ clock: () => Date.now() + offset });
    try {
      const env = {
        CLAVIS_DB: `sqlite:${join(later.dir, 'clavis.db')}`,
        CLAVIS_KEK_FILE: join(later.dir, 'clavis.kek'),
      };
      // Access tokens outlive the 15 minutes, so what ages is the sign-in, not the token.
      const ttl = await runCli(['admin', 'clients', 'update', 'clavis-cli', '--token-ttl', '1h'], { env });
      expect(ttl.code, ttl.stderr).toBe(0);
      const created = await runCli(
        ['admin', 'users', 'create', 'dana', '--admin', '--totp', '--password-stdin', '--json'],
        { env, stdin: PASSWORD },
      );
      expect(created.code, created.stderr).toBe(0);
      const h = fresh();
      const run = startCli(['login', '--server', later.issuer, '--scope', 'admin'], h.env);
      const [, link] = await waitFor(() => run.out.stderr, LINK);
      await new Person('dana', (JSON.parse(created.stdout) as { totp_secret: string }).totp_secret).approve(
        browser,
        link as string,
      );
      expect((await run.exited).code, run.out.stderr).toBe(0);

      offset = 16 * 60_000;
      const read = await runCli(['admin', '--server', later.issuer, 'users', 'list', '--json'], {
        env: h.env,
      });
      expect(read.code, read.stderr).toBe(0);
      const res = await runCli(['admin', '--server', later.issuer, 'users', 'disable', 'dana', '--yes'], {
        env: h.env,
      });
      expect(res).toEqual({
        code: 4,
        stdout: '',
        stderr: `clavis: this change needs a recent sign-in (within 15 minutes): run \`clavis login --server ${later.issuer} --scope admin\` again\n`,
      });
    } finally {
      await later.close();
    }
  });

  it('signing-keys rotate says the same both ways', async () => {
    const local = await runCli(['admin', 'signing-keys', 'rotate'], { env: dbEnv });
    const remote = await runCli(['admin', '--server', server.issuer, 'signing-keys', 'rotate'], {
      env: admin.env,
    });
    expect(local.code, local.stderr).toBe(0);
    // How many keys a rotation withdraws depends on the keys there are (the first one made more): each
    // kind of line, in order, is what must be the same.
    const shape = (text: string) => [
      ...new Set(
        text
          .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
          .replace(/(new key|withdrawn) \S+ /g, '$1 <kid> ')
          .split('\n'),
      ),
    ];
    expect(shape(remote.stdout)).toEqual(shape(local.stdout));
    expect(remote.code).toBe(0);
    expect(local.stdout).toMatch(/^new key /m);
    expect(local.stdout).toMatch(/^withdrawn /m);
    const json = await runCli(['admin', '--server', server.issuer, 'signing-keys', 'rotate', '--json'], {
      env: admin.env,
    });
    expect(Object.keys(JSON.parse(json.stdout))).toEqual(['withdraw_now', 'withdrawn', 'created']);
  });
});
