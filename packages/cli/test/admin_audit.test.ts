/**
 * `clavis admin audit verify`: exit 0 on an intact log; after the SQLite file is altered behind the
 * server's back (with node:sqlite, not our code), a non-zero exit and one stderr line naming the first
 * broken record.
 */
import { renameSync, statSync } from 'node:fs';
import { startServer } from '@clavis/server';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initDatabase, runCli, type Scratch, scratch, withSqlite } from './support/cli.js';

describe('audit verify', () => {
  let tmp: Scratch;
  const admin = (...args: string[]) => runCli(['admin', '--db', tmp.dbUrl, ...args]);
  let clientId: string;

  beforeEach(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    const res = await admin('clients', 'create', '--name', 'audited', '--kind', 'confidential', '--json');
    expect(res.code).toBe(0);
    clientId = (JSON.parse(res.stdout) as { client_id: string }).client_id;
    expect((await admin('clients', 'rotate-secret', clientId, '--grace', '1h')).code).toBe(0);
  });
  afterEach(() => tmp.remove());

  /** The position of the client.create record, as `audit verify` names records: `segment:seq`. */
  const createRecord = () =>
    withSqlite(tmp.dbPath, (db) => {
      const row = db
        .prepare("select segment, seq from audit_events where event = 'client.create' and client_id = ?")
        .get(clientId) as { segment: string; seq: number } | undefined;
      if (!row) throw new Error('no client.create record');
      return row;
    });

  it('exits 0 and reports the log intact', async () => {
    const res = await admin('audit', 'verify');
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('');
    expect(res.stdout).toMatch(
      /^audit log intact: \d+ records? in \d+ segments?, \d+ seals? \(0 not yet sealed\)\nno anchor file: deleting the newest records would go unnoticed, and seal signatures were not checked \(--anchor FILE\)\n$/,
    );

    const json = await admin('audit', 'verify', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, unsealed: 0 });
    expect(JSON.parse(json.stdout).records).toBeGreaterThanOrEqual(2);
  });

  it('a detail changed in place: exit 1, one stderr line naming the record', async () => {
    const { segment, seq } = createRecord();
    withSqlite(tmp.dbPath, (db) => {
      const changed = db
        .prepare(
          "update audit_events set detail = replace(detail, 'audited', 'innocent') where segment = ? and seq = ?",
        )
        .run(segment, seq);
      expect(changed.changes).toBe(1);
    });

    const res = await admin('audit', 'verify');
    expect(res).toEqual({
      code: 1,
      stdout: '',
      stderr: `clavis: audit log broken at ${segment}:${seq}: content does not match its hash\n`,
    });
  });

  it('a stored hash altered: exit 1, one stderr line naming the record', async () => {
    const { segment, seq } = createRecord();
    withSqlite(tmp.dbPath, (db) => {
      // Flip the first hex digit (to a different one, whatever it was).
      const changed = db
        .prepare(
          "update audit_events set hash = (case when substr(hash, 1, 1) = '0' then '1' else '0' end) || substr(hash, 2) where segment = ? and seq = ?",
        )
        .run(segment, seq);
      expect(changed.changes).toBe(1);
    });
    const res = await admin('audit', 'verify');
    expect(res).toEqual({
      code: 1,
      stdout: '',
      stderr: `clavis: audit log broken at ${segment}:${seq}: content does not match its hash\n`,
    });
  });

  it('a deleted record: exit 1, naming the missing position', async () => {
    const { segment, seq } = createRecord();
    withSqlite(tmp.dbPath, (db) => {
      db.prepare('delete from audit_events where segment = ? and seq = ?').run(segment, seq);
    });
    const res = await admin('audit', 'verify');
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(
      new RegExp(`^clavis: audit log broken at ${segment}:${seq}: record missing[^\\n]*\\n$`),
    );
  });

  it('--json prints the result and still exits non-zero with one stderr line', async () => {
    const { segment, seq } = createRecord();
    withSqlite(tmp.dbPath, (db) => {
      db.prepare("update audit_events set actor_id = 'someone-else' where segment = ? and seq = ?").run(
        segment,
        seq,
      );
    });
    const res = await admin('audit', 'verify', '--json');
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout)).toMatchObject({
      ok: false,
      broken: { where: `${segment}:${seq}`, reason: 'content does not match its hash' },
    });
    expect(res.stderr).toBe(
      `clavis: audit log broken at ${segment}:${seq}: content does not match its hash\n`,
    );
  });

  it('audit list marks a record outside the chain (seq 0, inserted behind the schema) UNVERIFIED', async () => {
    const { segment } = createRecord();
    withSqlite(tmp.dbPath, (db) => {
      db.exec('pragma ignore_check_constraints = on');
      db.prepare(
        "insert into audit_events (segment, seq, at, event, outcome, actor_type, actor_id, detail, prev_hash, hash) values (?, 0, ?, 'user.disable', 'success', 'admin', 'os:alice@ops-laptop', '{}', 'x', 'y')",
      ).run(segment, Date.now() + 60_000);
    });
    const text = await admin('audit', 'list', '--limit', '2');
    expect(text.code).toBe(0);
    const [head, forged, genuine] = text.stdout.split('\n');
    expect(head).toMatch(/^AT +EVENT +OUTCOME +ACTOR +IP +DETAIL$/);
    expect(forged).toMatch(/^UNVERIFIED \S+Z {2}user\.disable /);
    expect(genuine).toMatch(/^\d{4}-\S+Z {2}client\.secret_rotate /);
    const json = await admin('audit', 'list', '--limit', '2', '--json');
    expect(
      (JSON.parse(json.stdout) as Array<{ event: string; verified: boolean }>).map((r) => [
        r.event,
        r.verified,
      ]),
    ).toEqual([
      ['user.disable', false],
      ['client.secret_rotate', true],
    ]);
    expect((await admin('audit', 'verify')).stderr).toBe(
      `clavis: audit log broken at ${segment}:0: not a valid sequence number\n`,
    );
  });

  it('--anchor: the seals serve anchored (beside the database by default) must all be in the database', async () => {
    const server = await startServer({
      dbUrl: tmp.dbUrl,
      port: 0,
      host: '127.0.0.1',
      adminPassword: 'correct horse battery staple',
      logger: pino({ level: 'silent' }),
    });
    await server.services.audit.record({ event: 'token.issue', actor: { type: 'client', id: clientId } });
    await server.close();
    const anchor = `${tmp.dbPath}.audit-anchor`;
    expect(server.auditAnchor).toBe(anchor);
    expect(statSync(anchor).mode & 0o777).toBe(0o600);

    const ok = await admin('audit', 'verify', '--anchor', anchor, '--json');
    expect(ok.code).toBe(0);
    const result = JSON.parse(ok.stdout) as { ok: boolean; anchored: number; seals: number };
    expect(result).toMatchObject({ ok: true, anchored: 1 });

    // The newest seal, and the records only it covered, deleted.
    withSqlite(tmp.dbPath, (db) => {
      const last = db.prepare('select seq, segment from audit_seals order by seq desc limit 1').get() as {
        seq: number;
        segment: string;
      };
      db.prepare('delete from audit_seals where seq = ?').run(last.seq);
      db.prepare('delete from audit_events where segment = ?').run(last.segment);
      db.prepare('delete from audit_segments where id = ?').run(last.segment);
    });
    const broken = `clavis: audit log broken at seal:${result.seals}: in the anchor ${anchor} but missing from the database\n`;
    // Without --anchor, verify reads the anchor serve keeps beside the database.
    const implicit = await admin('audit', 'verify');
    expect(implicit.code).toBe(1);
    expect(implicit.stderr).toBe(broken);
    const res = await admin('audit', 'verify', '--anchor', anchor);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      `clavis: audit log broken at seal:${result.seals}: in the anchor ${anchor} but missing from the database\n`,
    );
    const missing = await admin('audit', 'verify', '--anchor', `${anchor}.nope`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^clavis: cannot read the audit anchor .*\.nope: /);

    // CLAVIS_AUDIT_ANCHOR names an anchor kept elsewhere; verify reads it, and a missing one is an error.
    const moved = `${anchor}.moved`;
    renameSync(anchor, moved);
    const verifyWith = (file: string) =>
      runCli(['admin', '--db', tmp.dbUrl, 'audit', 'verify'], { env: { CLAVIS_AUDIT_ANCHOR: file } });
    const viaEnv = await verifyWith(moved);
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toBe(broken.replace(anchor, moved));
    const gone = await verifyWith(`${anchor}.nope`);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^clavis: cannot read the audit anchor .*\.nope: /);
  });
});
