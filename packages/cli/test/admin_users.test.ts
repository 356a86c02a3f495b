/**
 * `clavis admin --db URL users create|list|show|disable|reset-mfa|unlock`, in-process over a real SQLite
 * file (and a fresh PostgreSQL schema). A password or TOTP secret appears only in the output of `create`;
 * the password is stored only as an scrypt hash (checked here with node:crypto, not with our code); a bad
 * request is one stderr line, nothing on stdout, and nothing written.
 */
import { scryptSync, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../test/support/dialects.js';
import { countRows, initDatabase, lines, runCli, type Scratch, scratch, withSqlite } from './support/cli.js';

interface UserJson {
  id: string;
  username: string;
  is_admin: boolean;
  has_totp: boolean;
  has_passkey: boolean;
  created_at: string;
  disabled_at: string | null;
  locked_at: string | null;
  failed_logins: number;
  failed_mfa: number;
  password?: string;
  totp_secret?: string;
  totp_uri?: string;
}

const VIEW_KEYS = [
  'created_at',
  'disabled_at',
  'failed_logins',
  'failed_mfa',
  'has_passkey',
  'has_totp',
  'id',
  'is_admin',
  'locked_at',
  'locked_until',
  'must_change_password',
  'scopes',
  'username',
];

/** Checks a `scrypt$N$r$p$salt$key` hash independently of the server's code. */
function scryptMatches(password: string, encoded: string): boolean {
  const [scheme, n, r, p, salt, key] = encoded.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = scryptSync(password.normalize('NFKC'), Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 256 * Number(n) * Number(r),
  });
  return timingSafeEqual(actual, expected);
}

/** Every part of an `otpauth://totp/…` URI, read with the WHATWG URL parser. */
function parseOtpauth(uri: string) {
  const url = new URL(uri);
  return {
    protocol: url.protocol,
    type: url.host,
    label: decodeURIComponent(url.pathname.slice(1)),
    params: Object.fromEntries(url.searchParams),
  };
}

describe('users on SQLite', () => {
  let tmp: Scratch;
  const admin = (...args: string[]) => runCli(['admin', '--db', tmp.dbUrl, ...args]);
  const adminStdin = (stdin: string, ...args: string[]) =>
    runCli(['admin', '--db', tmp.dbUrl, ...args], { stdin });
  const userRow = (username: string) =>
    withSqlite(tmp.dbPath, (db) => db.prepare('select * from users where username = ?').get(username)) as
      | { id: string; password_hash: string; totp_secret: string | null; is_admin: number }
      | undefined;
  let alice: UserJson;

  /** One error line, exit 1, nothing on stdout, no user added, and no change recorded (a refusal is). */
  async function expectRefused(
    run: () => Promise<{ code: number; stdout: string; stderr: string }>,
    stderr: string,
  ) {
    const users = countRows(tmp.dbPath, 'users');
    const audit = countRows(tmp.dbPath, 'audit_events', "outcome = 'success'");
    const res = await run();
    expect(res).toEqual({ code: 1, stdout: '', stderr: `${stderr}\n` });
    expect(countRows(tmp.dbPath, 'users')).toBe(users);
    expect(countRows(tmp.dbPath, 'audit_events', "outcome = 'success'")).toBe(audit);
  }

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    const res = await admin('users', 'create', 'alice', '--json');
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('Give the password to alice now: it is shown only this once.\n');
    alice = JSON.parse(res.stdout) as UserJson;
  });
  afterAll(() => tmp.remove());

  it('with CLAVIS_DB and CLAVIS_SERVER both set it works on the database and says so, once', async () => {
    const env = { CLAVIS_DB: tmp.dbUrl, CLAVIS_SERVER: 'https://clavis.invalid' };
    const both = await runCli(['admin', 'users', 'list', '--json'], { env });
    expect(both.code, both.stderr).toBe(0);
    expect(both.stderr).toBe(
      'clavis: CLAVIS_DB and CLAVIS_SERVER are both set: working on the database; --server (or unset CLAVIS_DB) for the server\n',
    );
    expect((JSON.parse(both.stdout) as UserJson[]).map((u) => u.username)).toContain('alice');
    // Only CLAVIS_DB, or --db given: nothing to say.
    expect((await runCli(['admin', 'users', 'list'], { env: { CLAVIS_DB: tmp.dbUrl } })).stderr).toBe('');
    expect((await runCli(['admin', '--db', tmp.dbUrl, 'users', 'list'], { env })).stderr).toBe('');
  });

  describe('create', () => {
    it('prints the person with a generated password, once; the database holds only its scrypt hash', () => {
      expect(Object.keys(alice).sort()).toEqual([...VIEW_KEYS, 'password'].sort());
      expect(alice).toMatchObject({
        id: expect.stringMatching(/^usr_[A-Za-z0-9_-]{22}$/),
        username: 'alice',
        is_admin: false,
        has_totp: false,
        disabled_at: null,
        locked_at: null,
      });
      expect(alice.password).toMatch(/^[a-zA-Z2-9]{24}$/);
      const row = userRow('alice');
      expect(row?.id).toBe(alice.id);
      expect(row?.password_hash).toMatch(/^scrypt\$/);
      expect(scryptMatches(alice.password ?? '', row?.password_hash ?? '')).toBe(true);
      expect(scryptMatches(`${alice.password}!`, row?.password_hash ?? '')).toBe(false);
      for (const file of ['clavis.db', 'clavis.db-wal']) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(join(tmp.dir, file));
        } catch {
          continue;
        }
        expect(bytes.includes(alice.password ?? '')).toBe(false);
      }
    });

    it('--password-stdin takes the piped password without its trailing newline and prints none', async () => {
      const res = await adminStdin(
        'a long enough passphrase\r\n',
        'users',
        'create',
        'bob',
        '--password-stdin',
        '--admin',
        '--json',
      );
      expect(res).toMatchObject({ code: 0, stderr: '' });
      const bob = JSON.parse(res.stdout) as UserJson;
      expect(Object.keys(bob).sort()).toEqual(VIEW_KEYS);
      expect(bob.is_admin).toBe(true);
      const row = userRow('bob');
      expect(row?.is_admin).toBe(1);
      expect(scryptMatches('a long enough passphrase', row?.password_hash ?? '')).toBe(true);
    });

    it('--totp prints totp_secret and an otpauth:// URI once, and stores the same secret', async () => {
      const res = await admin('users', 'create', 'carol@example.com', '--totp', '--json');
      expect(res.code).toBe(0);
      expect(res.stderr).toBe(
        'Give the password and the TOTP secret to carol@example.com now: they are shown only this once.\n',
      );
      const carol = JSON.parse(res.stdout) as UserJson;
      expect(Object.keys(carol).sort()).toEqual([...VIEW_KEYS, 'password', 'totp_secret', 'totp_uri'].sort());
      expect(carol.has_totp).toBe(true);
      expect(carol.totp_secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(parseOtpauth(carol.totp_uri ?? '')).toEqual({
        protocol: 'otpauth:',
        type: 'totp',
        label: 'Clavis:carol@example.com',
        params: { issuer: 'Clavis', secret: carol.totp_secret, algorithm: 'SHA1', digits: '6', period: '30' },
      });
      // Stored sealed under the KEK, never as the printed secret.
      const stored = userRow('carol@example.com')?.totp_secret ?? '';
      expect(stored.startsWith('v1.')).toBe(true);
      expect(stored).not.toContain(carol.totp_secret);
    });

    it('without --json prints the fields as lines on stdout', async () => {
      const res = await admin('users', 'create', 'dora', '--totp');
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/^id\s+usr_/m);
      expect(res.stdout).toMatch(/^username\s+dora$/m);
      expect(res.stdout).toMatch(/^password\s+[a-zA-Z2-9]{24}$/m);
      expect(res.stdout).toMatch(/^totp_secret\s+[A-Z2-7]{32}$/m);
      expect(res.stdout).toMatch(/^totp_uri\s+otpauth:\/\/totp\/Clavis:dora\?/m);
    });

    it('refuses a taken username, in any case', async () => {
      await expectRefused(
        () => admin('users', 'create', 'alice', '--json'),
        'clavis: a user named alice already exists',
      );
      await expectRefused(
        () => admin('users', 'create', 'Alice'),
        'clavis: a user named alice already exists',
      );
    });

    it("CC-02 (the other way round): refuses a username equal to a client's client_id", async () => {
      const client = JSON.parse(
        (await admin('clients', 'create', '--name', 'bot', '--kind', 'confidential', '--json')).stdout,
      ) as {
        client_id: string;
      };
      await expectRefused(
        () => admin('users', 'create', client.client_id),
        `clavis: username ${client.client_id} is a client's client_id; choose another`,
      );
    });

    it.each([
      ['with space', 'clavis: username must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -'],
      ['a'.repeat(65), 'clavis: username must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -'],
      ['semi;colon', 'clavis: username must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -'],
      ['usr_abc', 'clavis: username must not start with usr_'],
    ])('refuses the username %j', async (username, stderr) => {
      await expectRefused(() => admin('users', 'create', username, '--json'), stderr);
    });

    it.each([
      ['', 'clavis: --password-stdin: no password on stdin'],
      ['\n', 'clavis: --password-stdin: no password on stdin'],
      ['short pw\n', 'clavis: the password must be at least 12 characters'],
      [`${'x'.repeat(1025)}\n`, 'clavis: the password must be at most 1024 characters'],
      ['y'.repeat(5000), 'clavis: the password on stdin is too long (at most 1024 characters)'],
    ])('--password-stdin refuses %j', async (stdin, stderr) => {
      await expectRefused(
        () => adminStdin(stdin, 'users', 'create', 'erin', '--password-stdin', '--json'),
        stderr,
      );
    });
  });

  describe('list and show', () => {
    it('list --json never prints a password hash or a TOTP secret', async () => {
      const res = await admin('users', 'list', '--json');
      expect(res).toMatchObject({ code: 0, stderr: '' });
      const all = JSON.parse(res.stdout) as UserJson[];
      expect(all.map((u) => u.username)).toEqual(['alice', 'bob', 'carol@example.com', 'dora']);
      for (const u of all) expect(Object.keys(u).sort()).toEqual(VIEW_KEYS);
      const secrets = withSqlite(tmp.dbPath, (db) =>
        db.prepare('select password_hash, totp_secret from users').all(),
      ) as Array<{ password_hash: string; totp_secret: string | null }>;
      for (const s of secrets) {
        expect(res.stdout).not.toContain(s.password_hash);
        expect(res.stdout).not.toContain(s.password_hash.split('$').at(-1));
        if (s.totp_secret) expect(res.stdout).not.toContain(s.totp_secret);
      }
      expect(res.stdout).not.toContain(alice.password);
    });

    it('the table form shows MFA, admin and state', async () => {
      const res = await admin('users', 'list');
      expect(res.code).toBe(0);
      const out = lines(res.stdout);
      expect(out[0]).toMatch(/^ID\s+USERNAME\s+MFA\s+ADMIN\s+STATE$/);
      expect(out.find((l) => l.includes(' bob '))).toMatch(/\s-\s+yes\s+active$/);
      expect(out.find((l) => l.includes(' carol@example.com '))).toMatch(/\stotp\s+-\s+active$/);
    });

    it('the MFA column and has_passkey name a passkey; one disabled as a likely clone does not count', async () => {
      const passkey = (id: string, username: string, disabledAt: number | null) =>
        withSqlite(tmp.dbPath, (db) =>
          db
            .prepare(
              `insert into webauthn_credentials (id, user_id, public_key, counter, transports, device_type, name,
                 created_at, last_used_at, disabled_at, disabled_reason)
               values (?, (select id from users where username = ?), 'pk', 0, '[]', 'multiDevice', 'laptop', 0, null, ?, ?)`,
            )
            .run(id, username, disabledAt, disabledAt === null ? null : 'counter'),
        );
      passkey('cred-alice', 'alice', null);
      passkey('cred-carol', 'carol@example.com', null);
      passkey('cred-bob', 'bob', Date.now());
      try {
        const out = lines((await admin('users', 'list')).stdout);
        expect(out.find((l) => l.includes(' alice '))).toMatch(/\spasskey\s+-\s+active$/);
        expect(out.find((l) => l.includes(' carol@example.com '))).toMatch(/\stotp\+passkey\s+-\s+active$/);
        expect(out.find((l) => l.includes(' bob '))).toMatch(/\s-\s+yes\s+active$/);
        const all = JSON.parse((await admin('users', 'list', '--json')).stdout) as UserJson[];
        expect(all.map((u) => [u.username, u.has_totp, u.has_passkey])).toEqual([
          ['alice', false, true],
          ['bob', false, false],
          ['carol@example.com', true, true],
          ['dora', true, false],
        ]);
      } finally {
        withSqlite(tmp.dbPath, (db) => db.prepare('delete from webauthn_credentials').run());
      }
    });

    it('show by username or id prints the same person, without secrets', async () => {
      const { password: _password, ...view } = alice;
      for (const who of ['alice', alice.id]) {
        const res = await admin('users', 'show', who, '--json');
        expect(res).toMatchObject({ code: 0, stderr: '' });
        // ...and the person's passkeys (none here; never a public key: see the server's admin tests).
        expect(JSON.parse(res.stdout)).toEqual({ ...view, passkeys: [] });
      }
      expect(await admin('users', 'show', 'nobody')).toEqual({
        code: 1,
        stdout: '',
        stderr: 'clavis: no user nobody\n',
      });
    });

    it('show lists the passkeys, one line each, never the public key; reset-mfa removes them', async () => {
      const at = Date.UTC(2026, 11, 1, 9, 30);
      withSqlite(tmp.dbPath, (db) => {
        const insert = db.prepare(
          `insert into webauthn_credentials (id, user_id, public_key, counter, transports, device_type, name,
             created_at, last_used_at, disabled_at, disabled_reason) values (?, ?, 'PUBLIC-KEY-BLOB', 3, '["usb"]', ?, ?, ?, ?, ?, ?)`,
        );
        insert.run('cred_a', alice.id, 'singleDevice', 'YubiKey', at, at + 60_000, null, null);
        insert.run('cred_b', alice.id, 'multiDevice', 'Phone', at, null, at + 120_000, 'counter_regression');
      });
      const text = await admin('users', 'show', 'alice');
      expect(text.code).toBe(0);
      expect(text.stdout).not.toContain('PUBLIC-KEY-BLOB');
      expect(lines(text.stdout).slice(-3)).toEqual([
        'passkeys',
        '  YubiKey  singleDevice  created 2026-12-01T09:30:00.000Z  last used 2026-12-01T09:31:00.000Z  active',
        '  Phone  multiDevice  created 2026-12-01T09:30:00.000Z  last used never  disabled (counter_regression)',
      ]);
      const json = JSON.parse((await admin('users', 'show', 'alice', '--json')).stdout) as {
        passkeys: unknown[];
      };
      expect(JSON.stringify(json)).not.toContain('PUBLIC-KEY-BLOB');
      expect(json.passkeys).toHaveLength(2);

      expect(await admin('users', 'reset-mfa', 'alice')).toMatchObject({
        code: 0,
        stderr: expect.any(String),
      });
      expect(
        withSqlite(tmp.dbPath, (db) => db.prepare('select count(*) as n from webauthn_credentials').get()),
      ).toEqual({ n: 0 });
    });
  });

  describe('disable', () => {
    it('disables the person, revokes their token families and live access tokens in one step', async () => {
      const now = Date.now();
      withSqlite(tmp.dbPath, (db) => {
        db.prepare(
          `insert into token_families (id, client_id, user_id, scopes, created_at, expires_at) values (?, 'clavis-cli', ?, '[]', ?, ?)`,
        ).run('fam_a', alice.id, now, now + 86_400_000);
        db.prepare('insert into family_access_tokens (jti, family_id, expires_at) values (?, ?, ?)').run(
          'jti_live',
          'fam_a',
          now + 600_000,
        );
        db.prepare('insert into family_access_tokens (jti, family_id, expires_at) values (?, ?, ?)').run(
          'jti_old',
          'fam_a',
          now - 1000,
        );
      });
      const res = await admin('users', 'disable', 'alice', '--yes');
      expect(res).toEqual({
        code: 0,
        stdout: '',
        stderr: 'Disabled alice; revoked 1 refresh-token family.\n',
      });
      withSqlite(tmp.dbPath, (db) => {
        expect(db.prepare('select revoked_reason from token_families where id = ?').get('fam_a')).toEqual({
          revoked_reason: 'user_disabled',
        });
        expect(db.prepare('select jti from revoked_tokens order by jti').all()).toEqual([
          { jti: 'jti_live' },
        ]);
      });
      const show = JSON.parse((await admin('users', 'show', 'alice', '--json')).stdout) as UserJson;
      expect(show.disabled_at).toMatch(/^\d{4}-\d\d-\d\dT/);
      const audit = JSON.parse(
        (await admin('audit', 'list', '--event', 'user.disable', '--json')).stdout,
      ) as Array<{
        detail: Record<string, unknown>;
      }>;
      expect(audit.map((r) => r.detail)).toEqual([
        { user_id: alice.id, username: 'alice', revoked_families: 1 },
      ]);
    });

    it('a second disable is one error line and records nothing', async () => {
      await expectRefused(
        () => admin('users', 'disable', alice.id, '--yes'),
        'clavis: user alice is already disabled',
      );
    });

    it('an unknown person is one error line', async () => {
      await expectRefused(() => admin('users', 'disable', 'nobody', '--yes'), 'clavis: no user nobody');
    });
  });

  describe('reset-mfa and unlock', () => {
    it('reset-mfa removes the TOTP secret and recovery codes and clears an MFA lock', async () => {
      const carol = userRow('carol@example.com');
      withSqlite(tmp.dbPath, (db) => {
        db.prepare('update users set failed_mfa = 5, locked_at = 1, totp_last_step = 7 where id = ?').run(
          carol?.id ?? '',
        );
        db.prepare('insert into recovery_codes (hash, user_id) values (?, ?)').run('rc1', carol?.id ?? '');
      });
      const res = await admin('users', 'reset-mfa', 'carol@example.com', '--json');
      expect(res).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(res.stdout)).toMatchObject({ has_totp: false, locked_at: null, failed_mfa: 0 });
      withSqlite(tmp.dbPath, (db) => {
        expect(
          db
            .prepare('select totp_secret, totp_last_step, failed_mfa, locked_at from users where id = ?')
            .get(carol?.id ?? ''),
        ).toEqual({ totp_secret: null, totp_last_step: null, failed_mfa: 0, locked_at: null });
        expect(db.prepare('select count(*) as n from recovery_codes').get()).toEqual({ n: 0 });
      });
      expect(await admin('users', 'reset-mfa', 'dora')).toEqual({
        code: 0,
        stdout: '',
        stderr: 'Removed the second factor of dora.\n',
      });
    });

    it('unlock clears the lock and the failure counters', async () => {
      withSqlite(tmp.dbPath, (db) => {
        db.prepare(
          "update users set failed_logins = 10, failed_mfa = 2, locked_at = 5 where username = 'bob'",
        ).run();
      });
      expect(await admin('users', 'unlock', 'bob')).toEqual({
        code: 0,
        stdout: '',
        stderr: 'Unlocked bob.\n',
      });
      expect(
        withSqlite(tmp.dbPath, (db) =>
          db.prepare("select failed_logins, failed_mfa, locked_at from users where username = 'bob'").get(),
        ),
      ).toEqual({ failed_logins: 0, failed_mfa: 0, locked_at: null });
      await expectRefused(() => admin('users', 'unlock', 'nobody'), 'clavis: no user nobody');
    });
  });

  describe('audit', () => {
    it('records every change, attributed to the operator, without any secret', async () => {
      const res = await admin('audit', 'list', '--json');
      const records = JSON.parse(res.stdout) as Array<{
        event: string;
        actor_type: string;
        actor_id: string;
      }>;
      const events = records.map((r) => r.event);
      for (const e of ['user.create', 'user.disable', 'user.reset_mfa', 'user.unlock'])
        expect(events).toContain(e);
      for (const r of records.filter((x) => x.event.startsWith('user.'))) {
        expect(r).toMatchObject({ actor_type: 'admin', actor_id: expect.stringMatching(/^os:/) });
      }
      expect(res.stdout).not.toContain(alice.password);
      expect(res.stdout).not.toMatch(/scrypt\$/);
    });
  });

  describe('clients create: policy for people', () => {
    it('--require-mfa and the refresh lifetimes show in clients show --json', async () => {
      const create = await admin(
        'clients',
        'create',
        '--name',
        'terminal',
        '--kind',
        'public',
        '--require-mfa',
        '--refresh-idle-ttl',
        '1h',
        '--refresh-absolute-ttl',
        '30d',
        '--json',
      );
      expect(create).toMatchObject({ code: 0, stderr: '' });
      const { client_id } = JSON.parse(create.stdout) as { client_id: string };
      const show = JSON.parse((await admin('clients', 'show', client_id, '--json')).stdout) as Record<
        string,
        unknown
      >;
      expect(show).toMatchObject({
        require_mfa: true,
        refresh_idle_ttl: 3600,
        refresh_absolute_ttl: 2_592_000,
      });

      const plain = JSON.parse(
        (await admin('clients', 'create', '--name', 'p', '--kind', 'public', '--json')).stdout,
      ) as Record<string, unknown>;
      expect(plain).toMatchObject({ require_mfa: false, refresh_idle_ttl: null, refresh_absolute_ttl: null });
    });

    it('--require-mfa phishing-resistant: only a passkey will do; the bare flag still means any second factor', async () => {
      const create = await admin(
        'clients',
        'create',
        '--name',
        'deploy',
        '--kind',
        'public',
        '--require-mfa',
        'phishing-resistant',
        '--json',
      );
      expect(create).toMatchObject({ code: 0, stderr: '' });
      const { client_id } = JSON.parse(create.stdout) as { client_id: string };
      const level = async () =>
        JSON.parse((await admin('clients', 'show', client_id, '--json')).stdout) as Record<string, unknown>;
      expect(await level()).toMatchObject({ require_mfa: true, require_mfa_level: 'phishing-resistant' });
      expect((await admin('clients', 'show', client_id)).stdout).toMatch(
        /^require_mfa_level\s+phishing-resistant$/m,
      );

      expect((await admin('clients', 'update', client_id, '--require-mfa')).code).toBe(0);
      expect(await level()).toMatchObject({ require_mfa: true, require_mfa_level: 'any' });
      expect((await admin('clients', 'update', client_id, '--require-mfa', 'phishing-resistant')).code).toBe(
        0,
      );
      expect((await admin('clients', 'update', client_id, '--no-require-mfa')).code).toBe(0);
      expect(await level()).toMatchObject({ require_mfa: false, require_mfa_level: 'none' });

      const before = countRows(tmp.dbPath, 'clients');
      expect(
        await admin('clients', 'create', '--name', 'x', '--kind', 'public', '--require-mfa', 'sometimes'),
      ).toEqual({
        code: 1,
        stdout: '',
        stderr:
          "clavis: option '--require-mfa [level]' argument 'sometimes' is invalid. must be any or phishing-resistant\n",
      });
      expect(countRows(tmp.dbPath, 'clients')).toBe(before);
    });

    it('refuses a refresh lifetime out of bounds, with nothing created', async () => {
      const before = countRows(tmp.dbPath, 'clients');
      const res = await admin(
        'clients',
        'create',
        '--name',
        'x',
        '--kind',
        'public',
        '--refresh-idle-ttl',
        '30s',
      );
      expect(res).toEqual({
        code: 1,
        stdout: '',
        stderr: 'clavis: refresh idle lifetime must be between 60s and 31536000s\n',
      });
      expect(countRows(tmp.dbPath, 'clients')).toBe(before);
    });
  });
});

describe.skipIf(!dialects.includes('postgres'))('users on PostgreSQL (a fresh schema)', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const admin = (args: string[], stdin?: string) =>
    runCli(['admin', '--db', database.url, ...args], { env, ...(stdin !== undefined ? { stdin } : {}) });

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    env = { CLAVIS_KEK_FILE: join(database.dir, 'clavis.kek') };
    await initDatabase(database.url, env);
  });
  afterAll(() => database.drop());

  async function query<T>(text: string, values: unknown[] = []): Promise<T[]> {
    const url = new URL(database.url);
    const schema = url.searchParams.get('schema') ?? 'public';
    url.searchParams.delete('schema');
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(`set search_path to "${schema}"`);
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end();
    }
  }

  it('creates, lists, disables and resets a person', async () => {
    const create = await admin(
      ['users', 'create', 'pat', '--password-stdin', '--totp', '--json'],
      'pat password 123\n',
    );
    expect(create).toMatchObject({
      code: 0,
      stderr: 'Give the TOTP secret to pat now: it is shown only this once.\n',
    });
    const pat = JSON.parse(create.stdout) as UserJson;
    expect(pat).not.toHaveProperty('password');
    expect(pat.totp_secret).toMatch(/^[A-Z2-7]{32}$/);
    const [row] = await query<{ password_hash: string; totp_secret: string }>(
      'select password_hash, totp_secret from users where id = $1',
      [pat.id],
    );
    expect(scryptMatches('pat password 123', row?.password_hash ?? '')).toBe(true);
    // Sealed under the KEK at rest, never the printed secret.
    expect(row?.totp_secret.startsWith('v1.')).toBe(true);
    expect(row?.totp_secret).not.toContain(pat.totp_secret);

    await expect(admin(['users', 'create', 'pat'])).resolves.toEqual({
      code: 1,
      stdout: '',
      stderr: 'clavis: a user named pat already exists\n',
    });

    const list = await admin(['users', 'list', '--json']);
    expect((JSON.parse(list.stdout) as UserJson[]).map((u) => u.username)).toEqual(['pat']);
    expect(list.stdout).not.toContain(pat.totp_secret);
    expect(list.stdout).not.toContain(row?.password_hash);

    const now = Date.now();
    await query(
      `insert into token_families (id, client_id, user_id, scopes, created_at, expires_at) values ('fam_p', 'clavis-cli', $1, '[]', $2, $3)`,
      [pat.id, now, now + 86_400_000],
    );
    await query(
      `insert into family_access_tokens (jti, family_id, expires_at) values ('jti_p', 'fam_p', $1)`,
      [now + 600_000],
    );
    const disable = await admin(['users', 'disable', 'pat', '--yes', '--json']);
    expect(disable).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(disable.stdout)).toMatchObject({ username: 'pat', revoked_families: 1 });
    expect(await query('select revoked_reason from token_families')).toEqual([
      { revoked_reason: 'user_disabled' },
    ]);
    expect(await query('select jti from revoked_tokens')).toEqual([{ jti: 'jti_p' }]);

    const reset = await admin(['users', 'reset-mfa', pat.id, '--json']);
    expect(JSON.parse(reset.stdout)).toMatchObject({ has_totp: false });
    expect(await query('select totp_secret from users')).toEqual([{ totp_secret: null }]);

    const client = await admin([
      'clients',
      'create',
      '--name',
      't',
      '--kind',
      'public',
      '--require-mfa',
      '--json',
    ]);
    const { client_id } = JSON.parse(client.stdout) as { client_id: string };
    const show = await admin(['clients', 'show', client_id, '--json']);
    expect(JSON.parse(show.stdout)).toMatchObject({ require_mfa: true });
  });
});
