/**
 * The lifecycle commands: `clients update|disable|enable|secrets list|secrets revoke`, `users enable|
 * set-password|set-scopes|sessions|revoke-sessions`, `federations update|disable|enable|test`, `keys
 * update`, and the confirmation every destructive command asks for. Run functions called directly on
 * each dialect (bad input given straight to `run` too), and end to end through `main` on SQLite.
 */
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../test/support/dialects.js';
import { jwksOf, newClientKey, signAssertion } from '../../../test/support/jwt.js';
import {
  runClientsCreate,
  runClientsDelete,
  runClientsDisable,
  runClientsEnable,
  runClientsSecretsList,
  runClientsSecretsRevoke,
  runClientsUpdate,
} from '../src/commands/admin/clients_run.js';
import type { AdminRunDeps, AdminTarget } from '../src/commands/admin/context.js';
import {
  runFederationsCreate,
  runFederationsDisable,
  runFederationsEnable,
  runFederationsTest,
  runFederationsUpdate,
} from '../src/commands/admin/federations_run.js';
import { runKeysCreate, runKeysList, runKeysUpdate } from '../src/commands/admin/keys_run.js';
import { adminOpener } from '../src/commands/admin/session.js';
import {
  runUsersCreate,
  runUsersDisable,
  runUsersEnable,
  runUsersRevokeSessions,
  runUsersSessions,
  runUsersSetPassword,
  runUsersSetScopes,
} from '../src/commands/admin/users_run.js';
import { describeFailure } from '../src/failure.js';
import type { Env } from '../src/io.js';
import { initDatabase, lines, runCli, type Scratch, scratch, TextSink, withSqlite } from './support/cli.js';

type Deps = AdminRunDeps & { stdout: TextSink; stderr: TextSink };

/** stdin as a terminal would present it: `isTTY`, and the lines the person types. */
function terminal(typed: string): Readable & { isTTY: boolean } {
  return Object.assign(Readable.from([typed]), { isTTY: true });
}

describe.each(dialects)('lifecycle run functions (%s)', (dialect) => {
  let database: TestDatabase;
  let target: AdminTarget;
  const GITHUB = 'https://token.actions.githubusercontent.com';

  function deps(options: { stdin?: Readable; clock?: () => number } = {}): Deps {
    const env: Env = { CLAVIS_KEK_FILE: join(database.dir, 'kek') };
    const clock = options.clock ?? Date.now;
    return {
      stdout: new TextSink(),
      stderr: new TextSink(),
      stdin: options.stdin ?? Readable.from(['']),
      stopSignal: new Promise<string>(() => {}),
      env,
      clock,
      openAdmin: adminOpener(env, clock),
    };
  }

  /** A refusal as main prints it: one line, the exit code, nothing on stdout. */
  async function refused(run: (d: Deps) => Promise<void>, message: RegExp, exitCode = 1, d = deps()) {
    const err = await run(d).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'expected a refusal').toBeDefined();
    const failure = describeFailure(err);
    expect(failure.exitCode).toBe(exitCode);
    expect(failure.message).toMatch(message);
    expect(failure.message).not.toContain('\n');
    expect(d.stdout.text).toBe('');
    return d;
  }

  async function client(
    name: string,
    scope = ['a', 'b'],
  ): Promise<{ client_id: string; client_secret: string }> {
    const d = deps();
    await runClientsCreate(
      { ...target, name, kind: 'confidential', grant: [], scope, audience: [], json: true },
      d,
    );
    return JSON.parse(d.stdout.text) as { client_id: string; client_secret: string };
  }

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    target = { db: database.url };
    await initDatabase(database.url, { CLAVIS_KEK_FILE: join(database.dir, 'kek') });
  });
  afterAll(() => database.drop());

  describe('clients', () => {
    it('update prints the changed client; bad input is refused in one line', async () => {
      const { client_id } = await client('upd');
      const d = deps();
      await runClientsUpdate(
        { ...target, id: client_id, name: 'new name', scope: ['a'], tokenTtl: 120, json: true },
        d,
      );
      expect(JSON.parse(d.stdout.text)).toMatchObject({
        name: 'new name',
        scopes: ['a'],
        access_token_ttl: 120,
      });
      await refused((x) => runClientsUpdate({ ...target, id: client_id }, x), /^nothing to change$/);
      await refused(
        (x) => runClientsUpdate({ ...target, id: client_id, tokenTtl: 99_999 }, x),
        /between 30s/,
      );
      await refused(
        (x) => runClientsUpdate({ ...target, id: client_id, grant: ['password'] }, x),
        /unknown grant/,
      );
      await refused(
        (x) => runClientsUpdate({ ...target, id: 'svc_none', name: 'x' }, x),
        /^no client svc_none$/,
      );
    });

    it('disable asks in a terminal: y goes ahead, anything else cancels (exit 2); enable restores', async () => {
      const { client_id } = await client('dis');
      const cancelled = await refused(
        (x) => runClientsDisable({ ...target, id: client_id }, x),
        /^cancelled$/,
        2,
        deps({ stdin: terminal('n\n') }),
      );
      expect(cancelled.stderr.text).toMatch(
        /^Disable client svc_[\w-]+\? It can no longer authenticate or get tokens\. \[y\/N\] $/,
      );
      await refused((x) => runClientsDisable({ ...target, id: client_id }, x), /refused without --yes/);
      const yes = deps({ stdin: terminal('y\n') });
      await runClientsDisable({ ...target, id: client_id, json: true }, yes);
      expect(JSON.parse(yes.stdout.text).disabled_at).not.toBeNull();
      const again = deps();
      await runClientsEnable({ ...target, id: client_id }, again);
      expect(again.stderr.text).toBe(`Enabled client ${client_id}.\n`);
    });

    it('secrets list shows ids and states, never a secret; revoke --yes stops one now', async () => {
      const { client_id, client_secret } = await client('sec');
      const listed = deps();
      await runClientsSecretsList({ ...target, id: client_id }, listed);
      const out = lines(listed.stdout.text);
      expect(out[0]).toMatch(/^SECRET_ID +STATE +CREATED +EXPIRES +LAST_USED$/);
      expect(out).toHaveLength(2);
      expect(out[1]).toMatch(/^sec_[\w-]+ +active +\d{4}-\d\d-\d\dT[\d:.]+Z +never +unknown$/);
      expect(listed.stdout.text).not.toContain(client_secret);
      const secretId = (out[1] ?? '').split(' ')[0] as string;
      const revoked = deps();
      await runClientsSecretsRevoke({ ...target, id: client_id, secretId, yes: true, json: true }, revoked);
      expect(JSON.parse(revoked.stdout.text)).toMatchObject({ client_id, id: secretId, state: 'revoked' });
      await refused(
        (x) => runClientsSecretsRevoke({ ...target, id: client_id, secretId, yes: true }, x),
        /already revoked/,
      );
      await refused(
        (x) => runClientsSecretsRevoke({ ...target, id: client_id, secretId }, x),
        /refused without --yes/,
      );
    });

    it('delete without --yes and without a terminal is refused and deletes nothing', async () => {
      const { client_id } = await client('del');
      await refused(
        (x) => runClientsDelete({ ...target, id: client_id }, x),
        /^delete client svc_[\w-]+: refused without --yes/,
      );
      const shown = deps();
      await runClientsSecretsList({ ...target, id: client_id, json: true }, shown);
      expect(JSON.parse(shown.stdout.text)).toHaveLength(1);
    });
  });

  describe('users', () => {
    it('set-password: generated prints the one-time password once; --password-stdin sets the given one', async () => {
      const created = deps();
      await runUsersCreate({ ...target, username: 'pat', scope: [], json: true }, created);
      expect(JSON.parse(created.stdout.text).must_change_password).toBe(true);

      const d = deps();
      await runUsersSetPassword({ ...target, user: 'pat' }, d);
      expect(lines(d.stdout.text)).toHaveLength(1);
      expect(d.stderr.text).toMatch(/one-time password .* replaced at their next sign-in/);
      const given = deps({ stdin: Readable.from(['a long enough password\n']) });
      await runUsersSetPassword({ ...target, user: 'pat', passwordStdin: true, json: true }, given);
      const body = JSON.parse(given.stdout.text);
      expect(body.must_change_password).toBe(false);
      expect(body.password).toBeUndefined();
      await refused(
        (x) => runUsersSetPassword({ ...target, user: 'pat', passwordStdin: true }, x),
        /at least 12/,
        1,
        deps({ stdin: Readable.from(['short\n']) }),
      );
      await refused(
        (x) => runUsersSetPassword({ ...target, user: 'pat', passwordStdin: true }, x),
        /too long/,
        1,
        deps({ stdin: Readable.from(['x'.repeat(10_000)]) }),
      );
    });

    it('set-scopes, sessions (empty), revoke-sessions, disable and enable', async () => {
      await runUsersCreate({ ...target, username: 'lee', scope: ['a'] }, deps());
      const scoped = deps();
      await runUsersSetScopes({ ...target, user: 'lee', scope: ['a', 'b'], json: true }, scoped);
      expect(JSON.parse(scoped.stdout.text).scopes).toEqual(['a', 'b']);
      await refused(
        (x) => runUsersSetScopes({ ...target, user: 'lee', scope: [] }, x),
        /at least one --scope/,
      );
      await refused(
        (x) => runUsersSetScopes({ ...target, user: 'lee', scope: ['keys:mint'] }, x),
        /keys:mint/,
      );

      const sessions = deps();
      await runUsersSessions({ ...target, user: 'lee' }, sessions);
      expect(lines(sessions.stdout.text)).toEqual([
        expect.stringMatching(/^FAMILY_ID +CLIENT_ID +CREATED +LAST_USED +EXPIRES$/),
      ]);
      const revoke = deps();
      await runUsersRevokeSessions({ ...target, user: 'lee', yes: true }, revoke);
      expect(revoke.stderr.text).toBe('Revoked 0 refresh-token families of lee.\n');
      await refused((x) => runUsersRevokeSessions({ ...target, user: 'lee' }, x), /refused without --yes/);

      await refused((x) => runUsersDisable({ ...target, user: 'lee' }, x), /refused without --yes/);
      await runUsersDisable({ ...target, user: 'lee' }, deps({ stdin: terminal('yes\n') }));
      const enabled = deps();
      await runUsersEnable({ ...target, user: 'lee', json: true }, enabled);
      expect(JSON.parse(enabled.stdout.text).disabled_at).toBeNull();
      await refused((x) => runUsersEnable({ ...target, user: 'lee' }, x), /not disabled/);
    });
  });

  describe('federations', () => {
    it('update, disable, enable, and test printing PASS/FAIL by name (exit 1 on a failure)', async () => {
      const { client_id } = await client('fed', ['deploy']);
      const key = await newClientKey('RS256');
      const jwksFile = join(database.dir, `issuer-${client_id}.jwks.json`);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(jwksFile, JSON.stringify(jwksOf(key)));
      const created = deps();
      await runFederationsCreate(
        {
          ...target,
          client: client_id,
          preset: 'github-actions',
          audience: 'https://clavis.test',
          claim: ['repository=acme/app', 'environment=prod'],
          jwksFile,
          scope: [],
          json: true,
        },
        created,
      );
      const id = JSON.parse(created.stdout.text).id as string;

      const updated = deps();
      await runFederationsUpdate(
        { ...target, id, claim: ['repository=acme/app', 'ref=refs/heads/main'], json: true },
        updated,
      );
      expect(JSON.parse(updated.stdout.text).conditions).toEqual([
        { claim: 'repository', pattern: 'acme/app' },
        { claim: 'ref', pattern: 'refs/heads/main' },
      ]);
      await refused((x) => runFederationsUpdate({ ...target, id, claim: ['noequals'] }, x), /CLAIM=PATTERN/);
      await refused(
        (x) => runFederationsUpdate({ ...target, id, jwksFile, discovery: true }, x),
        /one of --jwks-file, --jwks-uri, --discovery/,
      );

      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: GITHUB,
        aud: 'https://clavis.test',
        sub: 'repo:acme/app:ref:refs/heads/main',
        repository: 'acme/app',
        ref: 'refs/heads/main',
        iat: now,
        exp: now + 300,
      };
      const good = deps();
      await runFederationsTest({ ...target, id, token: await signAssertion(key, claims) }, good);
      const out = lines(good.stdout.text);
      expect(out.every((l) => l.startsWith('PASS  '))).toBe(true);
      expect(out.map((l) => l.split(/ +/)[1])).toContain('signature');
      expect(out.some((l) => /^PASS +claim ref +want "refs\/heads\/main"/.test(l))).toBe(true);

      const bad = deps();
      const token = await signAssertion(key, { ...claims, ref: 'refs/heads/dev' });
      const err = await runFederationsTest({ ...target, id, token }, bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(describeFailure(err)).toEqual({
        exitCode: 1,
        message: `the token does not pass federation ${id}: claim ref`,
      });
      expect(lines(bad.stdout.text).filter((l) => l.startsWith('FAIL'))).toEqual([
        expect.stringMatching(/^FAIL +claim ref +want "refs\/heads\/main", token has "refs\/heads\/dev"$/),
      ]);
      expect(bad.stdout.text).not.toContain(token);

      const piped = deps({ stdin: Readable.from([`${await signAssertion(key, claims)}\n`]) });
      await runFederationsTest({ ...target, id, tokenStdin: true, json: true }, piped);
      expect(JSON.parse(piped.stdout.text).pass).toBe(true);
      await refused((x) => runFederationsTest({ ...target, id }, x), /give a workload token/);
      await refused(
        (x) => runFederationsTest({ ...target, id, tokenStdin: true }, x),
        /too large/,
        1,
        deps({ stdin: Readable.from(['x'.repeat(70_000)]) }),
      );

      await runFederationsDisable({ ...target, id, yes: true }, deps());
      const off = deps();
      await runFederationsTest({ ...target, id, token: await signAssertion(key, claims) }, off).catch(
        () => {},
      );
      expect(lines(off.stdout.text)[0]).toMatch(/^FAIL +federation_enabled +disabled at /);
      await runFederationsEnable({ ...target, id }, deps());
    });
  });

  describe('keys', () => {
    it('update narrows; list marks a key of a disabled owner owner_disabled', async () => {
      const { client_id } = await client('keyed', ['a', 'b']);
      const created = deps();
      await runKeysCreate(
        { ...target, owner: client_id, scope: ['a', 'b'], ttl: 86_400, cidr: [], json: true },
        created,
      );
      const keyId = JSON.parse(created.stdout.text).id as string;
      const updated = deps();
      await runKeysUpdate(
        { ...target, id: keyId, scope: ['a'], ttl: 3600, cidr: ['10.0.0.0/8'], json: true },
        updated,
      );
      expect(JSON.parse(updated.stdout.text)).toMatchObject({ scopes: ['a'], cidrs: ['10.0.0.0/8'] });
      await refused((x) => runKeysUpdate({ ...target, id: keyId, ttl: 86_400 }, x), /only move earlier/);
      await refused((x) => runKeysUpdate({ ...target, id: keyId, scope: ['b'] }, x), /only narrow/);
      await refused((x) => runKeysUpdate({ ...target, id: keyId, expires: 'tomorrow' }, x), /ISO-8601/);
      await refused(
        (x) => runKeysUpdate({ ...target, id: keyId, expires: '2030-01-01T00:00:00Z', ttl: 60 }, x),
        /not both/,
      );

      await runClientsDisable({ ...target, id: client_id, yes: true }, deps());
      const listed = deps();
      await runKeysList({ ...target, owner: client_id }, listed);
      expect(lines(listed.stdout.text)[1]).toMatch(new RegExp(`^${keyId} +${client_id} +owner_disabled +`));
    });
  });
});

describe('lifecycle commands end to end (SQLite)', () => {
  let tmp: Scratch;
  const admin = (args: string[], stdin?: string) => runCli(['admin', '--db', tmp.dbUrl, ...args], { stdin });

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
  });
  afterAll(() => tmp.remove());

  it('clients update, secrets, disable/enable; a destructive command without --yes exits 1 in one line', async () => {
    const created = await admin(['clients', 'create', '--name', 'e2e', '--kind', 'confidential', '--json']);
    const { client_id } = JSON.parse(created.stdout) as { client_id: string };
    expect(await admin(['clients', 'update', client_id])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'clavis: nothing to change\n',
    });
    expect((await admin(['clients', 'update', client_id, '--token-ttl', 'soon'])).code).toBe(1);
    const upd = await admin(['clients', 'update', client_id, '--scope', 'x', '--require-mfa', '--json']);
    expect(upd.code).toBe(0);
    expect(JSON.parse(upd.stdout)).toMatchObject({ scopes: ['x'], require_mfa: true });
    expect(await admin(['clients', 'disable', client_id])).toEqual({
      code: 1,
      stdout: '',
      stderr: `clavis: disable client ${client_id}: refused without --yes (stdin is not a terminal)\n`,
    });
    expect((await admin(['clients', 'disable', client_id, '--yes'])).code).toBe(0);
    expect(
      withSqlite(tmp.dbPath, (db) =>
        db.prepare('select disabled_at from clients where id = ?').get(client_id),
      ),
    ).toMatchObject({ disabled_at: expect.any(Number) });
    expect((await admin(['clients', 'enable', client_id])).code).toBe(0);
    const secrets = await admin(['clients', 'secrets', 'list', client_id, '--json']);
    const [secret] = JSON.parse(secrets.stdout) as { id: string }[];
    const revoked = await admin(['clients', 'secrets', 'revoke', client_id, secret?.id ?? '', '--yes']);
    expect(revoked).toEqual({
      code: 0,
      stdout: '',
      stderr: `Revoked secret ${secret?.id} of client ${client_id}.\n`,
    });
  });

  it('users set-password, set-scopes, sessions, revoke-sessions, enable', async () => {
    expect((await admin(['users', 'create', 'kim'])).code).toBe(0);
    const pw = await admin(
      ['users', 'set-password', 'kim', '--password-stdin', '--json'],
      'correct horse battery\n',
    );
    expect(pw.code).toBe(0);
    expect(JSON.parse(pw.stdout).must_change_password).toBe(false);
    expect((await admin(['users', 'set-scopes', 'kim'])).code).toBe(1);
    expect((await admin(['users', 'set-scopes', 'kim', '--scope', 'read'])).code).toBe(0);
    expect(JSON.parse((await admin(['users', 'sessions', 'kim', '--json'])).stdout)).toEqual([]);
    expect((await admin(['users', 'revoke-sessions', 'kim', '--yes'])).code).toBe(0);
    expect((await admin(['users', 'disable', 'kim', '--yes'])).code).toBe(0);
    expect((await admin(['users', 'enable', 'kim'])).code).toBe(0);
  });

  it('federations test: a malformed token fails token_format and exits 1', async () => {
    const created = await admin([
      'clients',
      'create',
      '--name',
      'ci',
      '--kind',
      'confidential',
      '--scope',
      'deploy',
      '--json',
    ]);
    const { client_id } = JSON.parse(created.stdout) as { client_id: string };
    const key = await newClientKey('RS256');
    const jwksFile = join(tmp.dir, 'ci.jwks.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(jwksFile, JSON.stringify(jwksOf(key)));
    const fed = await admin([
      'federations',
      'create',
      '--client',
      client_id,
      '--preset',
      'github-actions',
      '--audience',
      'aud',
      '--claim',
      'repository=acme/app',
      '--claim',
      'ref=refs/heads/main',
      '--jwks-file',
      jwksFile,
      '--json',
    ]);
    const { id } = JSON.parse(fed.stdout) as { id: string };
    const res = await admin(['federations', 'test', id, 'not-a-token']);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^FAIL +token_format +not a well-formed JWT$/m);
    expect(res.stderr).toBe(`clavis: the token does not pass federation ${id}: token_format\n`);
    expect((await admin(['federations', 'update', id, '--max-ttl', '5m'])).code).toBe(0);
    expect((await admin(['federations', 'disable', id, '--yes'])).code).toBe(0);
    expect((await admin(['federations', 'enable', id])).code).toBe(0);
  });

  it('keys update and revoke --yes', async () => {
    const created = await admin([
      'clients',
      'create',
      '--name',
      'k',
      '--kind',
      'confidential',
      '--scope',
      'r',
      '--json',
    ]);
    const { client_id } = JSON.parse(created.stdout) as { client_id: string };
    const key = JSON.parse(
      (await admin(['keys', 'create', '--owner', client_id, '--scope', 'r', '--ttl', '1d', '--json'])).stdout,
    ) as { id: string };
    const upd = await admin(['keys', 'update', key.id, '--max-uses', '3', '--rate-limit', '5', '--json']);
    expect(JSON.parse(upd.stdout)).toMatchObject({ max_uses: 3, rate_limit: 5 });
    expect((await admin(['keys', 'update', key.id, '--max-uses', '0'])).code).toBe(1);
    expect((await admin(['keys', 'revoke', key.id])).code).toBe(1);
    expect((await admin(['keys', 'revoke', key.id, '--yes'])).code).toBe(0);
  });
});
