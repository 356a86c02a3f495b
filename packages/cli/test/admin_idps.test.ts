/**
 * `clavis admin idps …`: through `main` over a real SQLite file, and the run functions called directly on
 * both dialects with bad input. The client secret is read from stdin, sealed, and never printed; delete
 * needs --yes off a terminal; stale lists linked people who have not signed in for long.
 */

import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AdminError } from '@clavis/server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../test/support/dialects.js';
import type { AdminRunDeps, AdminTarget } from '../src/commands/admin/context.js';
import { runIdpsCreate, runIdpsStale } from '../src/commands/admin/idps_run.js';
import { adminOpener } from '../src/commands/admin/session.js';
import { CliError } from '../src/errors.js';
import { initDatabase, lines, runCli, type Scratch, scratch, TextSink, withSqlite } from './support/cli.js';

const SECRET = 'upstream-client-secret-0123456789';
const ISSUER = 'https://sso.acme.example';

describe('admin idps on SQLite', () => {
  let tmp: Scratch;
  const admin = (args: string[], stdin?: string) =>
    runCli(['admin', '--db', tmp.dbUrl, ...args], stdin === undefined ? {} : { stdin });

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
  });
  afterAll(() => tmp.remove());

  it('create reads the secret from stdin, seals it, and never prints it', async () => {
    const res = await admin(
      [
        'idps',
        'create',
        '--name',
        'Acme',
        '--issuer',
        ISSUER,
        '--client-id',
        'clavis',
        '--client-secret-stdin',
        '--mfa-from-amr',
        '--acr',
        'urn:acme:mfa',
        '--allowed-group',
        'eng',
        '--claim-groups',
        'roles',
        '--json',
      ],
      `${SECRET}\n`,
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).not.toContain(SECRET);
    const created = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(created).toMatchObject({
      name: 'Acme',
      issuer: ISSUER,
      client_id: 'clavis',
      scopes: ['openid', 'profile', 'email'],
      claims: { username: 'preferred_username', email: 'email', groups: 'roles' },
      allowed_groups: ['eng'],
      mfa_from_amr: true,
      acr_values: ['urn:acme:mfa'],
      local_passwords: true,
      session_lifetime_seconds: 28800,
    });
    const stored = withSqlite(
      tmp.dbPath,
      (db) => db.prepare('select client_secret from identity_providers').get() as { client_secret: string },
    );
    expect(stored.client_secret.startsWith('v1.')).toBe(true);
    expect(stored.client_secret).not.toContain(SECRET);

    const shown = await admin(['idps', 'show', 'Acme']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('allowed_groups           eng');
    expect(shown.stdout).not.toContain(SECRET);
    const audit = withSqlite(
      tmp.dbPath,
      (db) =>
        db.prepare("select detail from audit_events where event = 'idp.create'").all() as Array<{
          detail: string;
        }>,
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]?.detail).not.toContain(SECRET);
  });

  it('refusals are one line with exit 1 and store nothing', async () => {
    const count = () =>
      withSqlite(tmp.dbPath, (db) =>
        Number((db.prepare('select count(*) as n from identity_providers').get() as { n: number }).n),
      );
    const before = count();
    const cases: Array<[string[], string | undefined, RegExp]> = [
      [
        ['idps', 'create', '--name', 'NoSecret', '--issuer', ISSUER, '--client-id', 'x'],
        undefined,
        /--client-secret-stdin/,
      ],
      [
        [
          'idps',
          'create',
          '--name',
          'Empty',
          '--issuer',
          ISSUER,
          '--client-id',
          'x',
          '--client-secret-stdin',
        ],
        '',
        /no secret on stdin/,
      ],
      [
        ['idps', 'create', '--name', 'Acme', '--issuer', ISSUER, '--client-id', 'x', '--client-secret-stdin'],
        SECRET,
        /exists/,
      ],
      [
        [
          'idps',
          'create',
          '--name',
          'Plain',
          '--issuer',
          'http://sso.acme.example',
          '--client-id',
          'x',
          '--client-secret-stdin',
        ],
        SECRET,
        /https/,
      ],
      [
        [
          'idps',
          'create',
          '--name',
          'Bad',
          '--issuer',
          ISSUER,
          '--client-id',
          'x',
          '--client-secret-stdin',
          '--local-passwords',
          'maybe',
        ],
        SECRET,
        /on or off/,
      ],
      [
        [
          'idps',
          'create',
          '--name',
          'Short',
          '--issuer',
          ISSUER,
          '--client-id',
          'x',
          '--client-secret-stdin',
          '--session-lifetime',
          '1m',
        ],
        SECRET,
        /between 5 minutes and 30 days/,
      ],
      [['idps', 'show', 'nope'], undefined, /no identity provider nope/],
      [['idps', 'delete', 'Acme'], undefined, /refused without --yes/],
    ];
    for (const [args, stdin, message] of cases) {
      const res = await admin(args, stdin);
      expect(res.code, args.join(' ')).toBe(1);
      expect(lines(res.stderr)).toHaveLength(1);
      expect(res.stderr).toMatch(message);
    }
    expect(count()).toBe(before);
  });

  it('update, link, links, stale, unlink, delete --yes', async () => {
    const updated = await admin([
      'idps',
      'update',
      'Acme',
      '--no-mfa-from-amr',
      '--any-group',
      '--local-passwords',
      'off',
      '--json',
    ]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({
      mfa_from_amr: false,
      allowed_groups: null,
      local_passwords: false,
      acr_values: ['urn:acme:mfa'],
    });
    // Neither flag: unchanged.
    const again = await admin(['idps', 'update', 'Acme', '--claim-email', 'mail', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ mfa_from_amr: false, claims: { email: 'mail' } });

    expect((await admin(['users', 'create', 'ada', '--json'])).code).toBe(0);
    const linked = await admin(['idps', 'link', 'Acme', '--user', 'ada', '--subject', 'sub-ada', '--json']);
    expect(linked.code, linked.stderr).toBe(0);
    expect(JSON.parse(linked.stdout)).toMatchObject({
      username: 'ada',
      upstream_subject: 'sub-ada',
      last_sign_in_at: null,
    });
    expect((await admin(['idps', 'link', 'Acme', '--user', 'ada', '--subject', 'sub-ada'])).stderr).toMatch(
      /linked already/,
    );

    // Linked 100 days ago, never signed in since: stale at 90 days, not at 200.
    const old = Date.now() - 100 * 86_400_000;
    withSqlite(tmp.dbPath, (db) => db.prepare('update identity_links set created_at = ?').run(old));
    const stale = await admin(['idps', 'stale', 'Acme', '--json']);
    expect((JSON.parse(stale.stdout) as Array<{ username: string }>).map((l) => l.username)).toEqual(['ada']);
    expect(JSON.parse((await admin(['idps', 'stale', 'Acme', '--days', '200', '--json'])).stdout)).toEqual(
      [],
    );
    expect((await admin(['idps', 'links', 'Acme'])).stdout).toContain('never');

    const unlinked = await admin(['idps', 'unlink', 'Acme', '--subject', 'sub-ada', '--yes', '--json']);
    expect(JSON.parse(unlinked.stdout)).toEqual({ unlinked: true, revoked_families: 0 });

    const list = await admin(['idps', 'list', '--json']);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(1);
    const deleted = await admin(['idps', 'delete', 'Acme', '--yes', '--json']);
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.stdout)).toMatchObject({ deleted: true, unlinked: 0 });
    expect(JSON.parse((await admin(['idps', 'list', '--json'])).stdout)).toEqual([]);
  });

  it('kek rotate re-seals identity-provider secrets', async () => {
    expect(
      (
        await admin(
          [
            'idps',
            'create',
            '--name',
            'Corp',
            '--issuer',
            ISSUER,
            '--client-id',
            'c',
            '--client-secret-stdin',
          ],
          SECRET,
        )
      ).code,
    ).toBe(0);
    const rotated = await admin(['kek', 'rotate', '--generate', '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ moved: true, resealed_idp_secrets: 1 });
  });
});

describe.each(dialects)('admin idps run functions (%s)', (dialect) => {
  let database: TestDatabase;
  let target: AdminTarget;
  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    target = { db: database.url };
  });
  afterEach(async () => {
    await database.drop();
  });
  const deps = (stdin = ''): AdminRunDeps & { stdout: TextSink; stderr: TextSink } => {
    const env = { CLAVIS_KEK_FILE: join(database.dir, 'kek') };
    return {
      stdout: new TextSink(),
      stderr: new TextSink(),
      stdin: Readable.from([stdin]),
      env,
      stopSignal: new Promise<string>(() => {}),
      clock: Date.now,
      openAdmin: adminOpener(env, Date.now),
    };
  };

  it('bad input given straight to run is refused', async () => {
    await deps().openAdmin(target, async () => undefined, { create: true });
    const base = { ...target, name: 'Corp', issuer: ISSUER, clientId: 'c', clientSecretStdin: true };
    await expect(runIdpsCreate(base, deps('x'.repeat(5000)))).rejects.toThrow(CliError);
    await expect(runIdpsCreate({ ...base, name: 'bad\u0000name' }, deps(SECRET))).rejects.toThrow(AdminError);
    await expect(runIdpsCreate({ ...base, scope: ['bad scope'] }, deps(SECRET))).rejects.toThrow(/scope/);
    await expect(runIdpsCreate({ ...base, claimUsername: 'a b' }, deps(SECRET))).rejects.toThrow(
      /claim name/,
    );
    await expect(
      runIdpsCreate({ ...base, allowedGroup: Array.from({ length: 1001 }, (_, i) => `g${i}`) }, deps(SECRET)),
    ).rejects.toThrow(/at most/);
    const ok = deps(SECRET);
    await runIdpsCreate({ ...base, json: true }, ok);
    expect(JSON.parse(ok.stdout.text)).toMatchObject({ name: 'Corp' });
    await expect(runIdpsStale({ ...target, id: 'Corp', days: 0 }, deps())).rejects.toThrow(/days/);
  });
});
