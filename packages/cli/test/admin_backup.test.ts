/**
 * `clavis admin backup FILE`: a snapshot taken while `clavis serve` (a real process) answers a stream of
 * token requests restores — `serve` starts on it, the client in it gets tokens, and `audit verify`
 * passes — while the anchor the old server kept goes on naming seals the restored database lacks. The
 * file is new and 0600; an existing file, a missing directory and a PostgreSQL URL are refused.
 */
import { copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/free_port.js';
import { basic, postForm, TOKEN_PATH } from '../../../test/support/oauth.js';
import { runBackup } from '../src/commands/admin/backup_run.js';
import { adminOpener } from '../src/commands/admin/session.js';
import { CliError } from '../src/errors.js';
import {
  childEnv,
  initDatabase,
  runCli,
  type Scratch,
  scratch,
  startCli,
  TextSink,
  withSqlite,
} from './support/cli.js';

type Started = ReturnType<typeof startCli>;

async function ready(server: Started, base: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`clavis serve exited early:\n${server.out.stderr}`);
    if (Date.now() > deadline) throw new Error(`clavis serve never became ready:\n${server.out.stderr}`);
    const status = await fetch(`${base}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200 && server.out.stderr.includes('Next steps:')) return;
    await delay(50);
  }
}

async function stop(server: Started): Promise<void> {
  server.child.kill('SIGTERM');
  const { code } = await server.exited;
  expect(code).toBe(0);
}

describe('admin backup', () => {
  let tmp: Scratch;
  const running: Started[] = [];
  const serve = async (dbUrl: string) => {
    const port = await freePort();
    const s = startCli(
      ['serve', '--db', dbUrl, '--port', String(port)],
      childEnv({ CLAVIS_ADMIN_PASSWORD: 'a long admin password 1' }),
    );
    running.push(s);
    const base = `http://127.0.0.1:${port}`;
    await ready(s, base);
    return { server: s, base };
  };

  beforeEach(() => {
    tmp = scratch();
  });
  afterEach(async () => {
    for (const s of running.splice(0)) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL');
        await s.exited;
      }
    }
    tmp.remove();
  });

  it('a snapshot taken under load restores: serve starts on it, its client gets tokens, audit verify passes', async () => {
    const { server, base } = await serve(tmp.dbUrl);
    const created = await runCli([
      'admin',
      '--db',
      tmp.dbUrl,
      'clients',
      'create',
      '--name',
      'svc',
      '--kind',
      'confidential',
      '--scope',
      'read',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const { client_id, client_secret } = JSON.parse(created.stdout) as {
      client_id: string;
      client_secret: string;
    };
    const auth = basic(client_id, client_secret);
    const token = (at: string) =>
      postForm(at, TOKEN_PATH, 'grant_type=client_credentials&scope=read', { authorization: auth });

    // Four request loops run through the backup: every token issued is an audit record committed.
    let loading = true;
    let issued = 0;
    const loops = Array.from({ length: 4 }, async () => {
      while (loading) {
        const res = await token(base);
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        issued++;
      }
    });
    while (issued < 50) await delay(10);
    const backup = join(tmp.dir, 'snapshots', 'clavis-backup.db');
    mkdirSync(join(tmp.dir, 'snapshots'));
    const res = await runCli(['admin', '--db', tmp.dbUrl, 'backup', backup]);
    const issuedAtBackup = issued;
    while (issued < issuedAtBackup + 50) await delay(10);
    loading = false;
    await Promise.all(loops);
    await stop(server);

    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /^backup written: \S+clavis-backup\.db \(\d+ bytes, snapshot of \d{4}-\d\d-\d\dT\S+Z\)\n/,
    );
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    const tokensIn = (file: string) =>
      withSqlite(
        file,
        (db) =>
          (
            db.prepare("select count(*) as n from audit_events where event = 'token.issue'").get() as {
              n: number;
            }
          ).n,
      );
    // The snapshot holds some of the load, and not what came after it.
    expect(tokensIn(backup)).toBeGreaterThanOrEqual(50);
    expect(tokensIn(backup)).toBeLessThan(tokensIn(tmp.dbPath));
    // The backup itself is recorded in the live database.
    withSqlite(tmp.dbPath, (db) => {
      expect(
        db.prepare("select count(*) as n from audit_events where event = 'database.backup'").get(),
      ).toEqual({ n: 1 });
    });

    // A second backup to the same file is refused, and the file stays as it was.
    const size = statSync(backup).size;
    const again = await runCli(['admin', '--db', tmp.dbUrl, 'backup', backup]);
    expect(again).toEqual({
      code: 1,
      stdout: '',
      stderr: `clavis: ${backup} exists: refusing to overwrite it\n`,
    });
    expect(statSync(backup).size).toBe(size);

    // Restore as the docs say, on another directory: the snapshot as the database, with the same KEK and
    // audit key, and no anchor (the old one names seals the snapshot lacks).
    const restored = join(tmp.dir, 'restored');
    mkdirSync(restored, { mode: 0o700 });
    copyFileSync(backup, join(restored, 'clavis.db'));
    for (const f of ['clavis.kek', 'clavis-audit.key']) copyFileSync(join(tmp.dir, f), join(restored, f));
    const restoredUrl = `sqlite:${join(restored, 'clavis.db')}`;
    const again2 = await serve(restoredUrl);
    const after = await token(again2.base);
    expect(after.status).toBe(200);
    await stop(again2.server);

    const verify = await runCli(['admin', '--db', restoredUrl, 'audit', 'verify']);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^audit log intact: /);
    // The old server's anchor is ahead of the restored database: verify against it says so.
    const oldAnchor = `${tmp.dbPath}.audit-anchor`;
    expect(existsSync(oldAnchor)).toBe(true);
    const behind = await runCli(['admin', '--db', restoredUrl, 'audit', 'verify', '--anchor', oldAnchor]);
    expect(behind.code).toBe(1);
    expect(behind.stderr).toMatch(
      /^clavis: audit log broken at seal:\d+: in the anchor .* but missing from the database\n$/,
    );
  }, 120_000);

  it('refuses a missing directory, and an existing file even if empty', async () => {
    await initDatabase(tmp.dbUrl);
    expect((await runCli(['admin', '--db', tmp.dbUrl, 'clients', 'list'])).code).toBe(0);
    const missing = await runCli(['admin', '--db', tmp.dbUrl, 'backup', join(tmp.dir, 'nope', 'b.db')]);
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr: `clavis: directory ${join(tmp.dir, 'nope')} does not exist\n`,
    });
    const existing = join(tmp.dir, 'empty.db');
    writeFileSync(existing, '');
    const refused = await runCli(['admin', '--db', tmp.dbUrl, 'backup', existing]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`clavis: ${existing} exists: refusing to overwrite it\n`);
    expect(statSync(existing).size).toBe(0);
    // Both refusals are recorded as failed backups.
    withSqlite(tmp.dbPath, (db) => {
      expect(
        db
          .prepare(
            "select outcome, count(*) as n from audit_events where event = 'database.backup' group by outcome",
          )
          .all(),
      ).toEqual([{ outcome: 'failure', n: 2 }]);
    });
  });

  it('PostgreSQL: writes nothing, exits 1 with the pg_dump line, without the password', async () => {
    const file = join(tmp.dir, 'pg.dump');
    const env = { CLAVIS_DB: 'postgres://clavis:s3cret@db.internal:5432/clavis?schema=auth' }; // secretlint-disable-line
    const stdout = new TextSink();
    const err = await runBackup({ file }, { stdout, env, openAdmin: adminOpener(env, Date.now) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    const message = (err as CliError).message;
    expect(message).toBe(
      `a PostgreSQL database is backed up with pg_dump, not by clavis: run pg_dump --format=custom --no-owner --schema 'auth' --file '${file}' 'postgres://clavis@db.internal:5432/clavis'`,
    );
    expect(message).not.toContain('s3cret');
    expect(stdout.text).toBe('');
    expect(existsSync(file)).toBe(false);
    const viaMain = await runCli(['admin', 'backup', file], { env });
    expect(viaMain.code).toBe(1);
    expect(viaMain.stderr).toBe(`clavis: ${message}\n`);
  });
});
