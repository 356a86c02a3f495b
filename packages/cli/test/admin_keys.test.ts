/**
 * `clavis admin --db URL keys create|list|show|rotate|revoke`, in-process over a real SQLite file (and a
 * PostgreSQL schema for the lifecycle). The key appears only in the output of create and rotate, and
 * is stored only as a hash; every error is one stderr line and a non-zero exit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_KEY_PATTERN, checkApiKey } from '@clavis/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../test/support/dialects.js';
import { initDatabase, lines, runCli, type Scratch, scratch, withSqlite } from './support/cli.js';

interface KeyJson {
  id: string;
  key?: string;
  name: string;
  owner: string;
  owner_type: string;
  scopes: string[];
  state: string;
  expires_at: string;
  created_at: string;
  cidrs: string[] | null;
  max_uses: number | null;
  rate_limit: number | null;
  predecessor_id: string | null;
  successor_id: string | null;
}

describe('keys on SQLite', () => {
  let tmp: Scratch;
  const admin = (...args: string[]) => runCli(['admin', '--db', tmp.dbUrl, ...args]);
  let clientId: string;
  let created: KeyJson;

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    const client = await admin(
      'clients',
      'create',
      '--name',
      'ci',
      '--kind',
      'confidential',
      '--scope',
      'read',
      '--scope',
      'write',
      '--json',
    );
    expect(client.code, client.stderr).toBe(0);
    clientId = (JSON.parse(client.stdout) as { client_id: string }).client_id;
    const res = await admin(
      'keys',
      'create',
      '--owner',
      clientId,
      '--scope',
      'read',
      '--ttl',
      '30d',
      '--cidr',
      '10.0.0.0/8',
      '--cidr',
      '2001:db8::/32',
      '--max-uses',
      '100',
      '--rate-limit',
      '60',
      '--name',
      'export job',
      '--json',
    );
    expect(res).toMatchObject({ code: 0, stderr: '' });
    created = JSON.parse(res.stdout) as KeyJson;
  });
  afterAll(() => tmp.remove());

  it('create --json prints the pinned fields, the key once, ISO expiry', () => {
    expect(created).toMatchObject({
      id: expect.stringMatching(/^key_/),
      owner: clientId,
      owner_type: 'client',
      scopes: ['read'],
      name: 'export job',
      state: 'active',
      cidrs: ['10.0.0.0/8', '2001:db8::/32'],
      max_uses: 100,
      rate_limit: 60,
    });
    expect(checkApiKey(created.key ?? '')).toBe('valid');
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(30 * 86_400_000);
    expect(created.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('the key is stored only as a hash: not in the database file, not in the audit log', () => {
    const key = created.key ?? '';
    const rows = withSqlite(tmp.dbPath, (db) => db.prepare('select * from api_keys').all());
    expect(JSON.stringify(rows)).not.toContain(key);
    const audit = withSqlite(tmp.dbPath, (db) =>
      db.prepare("select * from audit_events where event like 'api_key.%'").all(),
    );
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toMatch(API_KEY_PATTERN);
    for (const file of ['clavis.db', 'clavis.db-wal']) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(tmp.dir, file));
      } catch {
        continue;
      }
      expect(bytes.includes(key.slice(4))).toBe(false);
    }
  });

  it('without --json: the key on its own line, a one-line warning on stderr', async () => {
    const res = await admin('keys', 'create', '--owner', clientId, '--scope', 'write', '--ttl', '1h');
    expect(res.code).toBe(0);
    const out = lines(res.stdout);
    expect(out.filter((l) => checkApiKey(l) === 'valid')).toHaveLength(1);
    expect(lines(res.stderr)).toHaveLength(1);
    expect(res.stderr).toMatch(/shown only this once/);
  });

  it('list and show never print the key', async () => {
    const list = await admin('keys', 'list', '--json');
    expect(list.code).toBe(0);
    const all = JSON.parse(list.stdout) as KeyJson[];
    expect(all.some((k) => k.id === created.id)).toBe(true);
    expect(list.stdout).not.toMatch(API_KEY_PATTERN);
    const mine = JSON.parse((await admin('keys', 'list', '--owner', clientId, '--json')).stdout) as KeyJson[];
    expect(mine.every((k) => k.owner === clientId)).toBe(true);
    const show = await admin('keys', 'show', created.id, '--json');
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: created.id, owner: clientId, scopes: ['read'] });
    expect(show.stdout).not.toMatch(API_KEY_PATTERN);
    const table = await admin('keys', 'list');
    expect(table.stdout).toContain(created.id);
    expect(table.stdout).not.toMatch(API_KEY_PATTERN);
  });

  it('rotate issues a linked successor; the old key expires after the grace; one audit record names both', async () => {
    const res = await admin('keys', 'rotate', created.id, '--grace', '2h', '--json');
    expect(res.code, res.stderr).toBe(0);
    const rotated = JSON.parse(res.stdout) as KeyJson & { predecessor: KeyJson };
    expect(checkApiKey(rotated.key ?? '')).toBe('valid');
    expect(rotated.key).not.toBe(created.key);
    expect(rotated).toMatchObject({
      predecessor_id: created.id,
      owner: clientId,
      scopes: ['read'],
      cidrs: created.cidrs,
      max_uses: 100,
      rate_limit: 60,
    });
    expect(Date.parse(rotated.expires_at) - Date.parse(rotated.created_at)).toBe(30 * 86_400_000);
    expect(rotated.predecessor.successor_id).toBe(rotated.id);
    expect(Date.parse(rotated.predecessor.expires_at) - Date.parse(rotated.created_at)).toBe(2 * 3_600_000);
    expect(JSON.stringify(rotated.predecessor)).not.toMatch(API_KEY_PATTERN);
    const audit = withSqlite(tmp.dbPath, (db) =>
      db.prepare("select detail from audit_events where event = 'api_key.rotate'").all(),
    ) as Array<{ detail: string }>;
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]?.detail ?? '{}')).toMatchObject({
      api_key_id: created.id,
      successor_id: rotated.id,
    });
    const again = await admin('keys', 'rotate', created.id);
    expect(again.code).not.toBe(0);
    expect(lines(again.stderr)).toHaveLength(1);
    expect(again.stderr).toMatch(/already rotated/);
  });

  it('revoke, then revoking again is an error; --all lists revoked keys', async () => {
    const res = await admin('keys', 'revoke', created.id, '--yes', '--json');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({
      id: created.id,
      state: 'revoked',
      revoked_reason: 'admin',
    });
    const again = await admin('keys', 'revoke', created.id, '--yes');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`clavis: API key ${created.id} is already revoked\n`);
    const live = JSON.parse((await admin('keys', 'list', '--json')).stdout) as KeyJson[];
    expect(live.some((k) => k.id === created.id)).toBe(false);
    const all = JSON.parse((await admin('keys', 'list', '--all', '--json')).stdout) as KeyJson[];
    expect(all.find((k) => k.id === created.id)?.state).toBe('revoked');
  });

  it("a person's key: --owner user:NAME, bounded by the person's --scope ceiling", async () => {
    const user = await admin('users', 'create', 'dana', '--scope', 'deploy', '--scope', 'read', '--json');
    expect(user.code, user.stderr).toBe(0);
    expect(JSON.parse(user.stdout).scopes).toEqual(['deploy', 'read']);
    const ok = await admin(
      'keys',
      'create',
      '--owner',
      'user:dana',
      '--scope',
      'deploy',
      '--ttl',
      '1d',
      '--json',
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      owner: 'user:dana',
      owner_type: 'user',
      scopes: ['deploy'],
    });
    const beyond = await admin('keys', 'create', '--owner', 'user:dana', '--scope', 'admin', '--ttl', '1d');
    expect(beyond.code).toBe(1);
    expect(beyond.stderr).toMatch(/^clavis: scope beyond the ceiling of user:dana: admin\n$/);
  });

  it('every bad input is one stderr line and exit 1, and creates nothing', async () => {
    const count = () =>
      withSqlite(
        tmp.dbPath,
        (db) => (db.prepare('select count(*) as n from api_keys').get() as { n: number }).n,
      );
    const before = count();
    const bad: string[][] = [
      ['keys', 'create', '--owner', clientId, '--scope', 'read'],
      ['keys', 'create', '--owner', clientId, '--ttl', '1h'],
      ['keys', 'create', '--owner', clientId, '--scope', 'read', '--ttl', '91d'],
      ['keys', 'create', '--owner', clientId, '--scope', 'read', '--ttl', '0s'],
      ['keys', 'create', '--owner', clientId, '--scope', 'read', '--ttl', 'forever'],
      ['keys', 'create', '--owner', clientId, '--scope', 'admin', '--ttl', '1h'],
      ['keys', 'create', '--owner', clientId, '--scope', 'keys:mint', '--ttl', '1h'],
      ['keys', 'create', '--owner', clientId, '--scope', 'read', '--ttl', '1h', '--cidr', 'fe80::1%eth0'],
      ['keys', 'create', '--owner', clientId, '--scope', 'read', '--ttl', '1h', '--cidr', '10.0.0.1/8'],
      ['keys', 'create', '--owner', clientId, '--scope', 'read', '--ttl', '1h', '--max-uses', '0'],
      ['keys', 'create', '--owner', clientId, '--scope', 'read', '--ttl', '1h', '--rate-limit', '-1'],
      ['keys', 'create', '--owner', 'svc_nobody', '--scope', 'read', '--ttl', '1h'],
      ['keys', 'create', '--owner', 'user:nobody', '--scope', 'read', '--ttl', '1h'],
      ['keys', 'show', 'key_nope'],
      ['keys', 'rotate', 'key_nope'],
      ['keys', 'rotate', 'key_nope', '--grace', '0s'],
      ['keys', 'revoke', 'key_nope', '--yes'],
    ];
    for (const argv of bad) {
      const res = await admin(...argv);
      expect(res.code, argv.join(' ')).toBe(1);
      expect(lines(res.stderr), argv.join(' ')).toHaveLength(1);
      expect(res.stderr).toMatch(/^(clavis|error): /);
      expect(res.stdout).toBe('');
    }
    expect(count()).toBe(before);
  });
});

describe.each(dialects)('keys lifecycle through the CLI (%s)', (dialect) => {
  let database: TestDatabase;
  const admin = (...args: string[]) =>
    runCli(['admin', '--db', database.url, ...args], { env: { CLAVIS_KEK_FILE: join(database.dir, 'kek') } });

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    await initDatabase(database.url, { CLAVIS_KEK_FILE: join(database.dir, 'kek') });
  });
  afterAll(() => database.drop());

  it('create → rotate → revoke', async () => {
    const client = await admin(
      'clients',
      'create',
      '--name',
      'x',
      '--kind',
      'confidential',
      '--scope',
      'read',
      '--json',
    );
    expect(client.code, client.stderr).toBe(0);
    const clientId = (JSON.parse(client.stdout) as { client_id: string }).client_id;
    const created = await admin(
      'keys',
      'create',
      '--owner',
      clientId,
      '--scope',
      'read',
      '--ttl',
      '7d',
      '--max-uses',
      '1',
      '--json',
    );
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as KeyJson;
    const rotated = await admin('keys', 'rotate', key.id, '--json');
    expect(rotated.code, rotated.stderr).toBe(0);
    const successor = JSON.parse(rotated.stdout) as KeyJson & { predecessor: KeyJson };
    // Default grace: 24 hours.
    expect(Date.parse(successor.predecessor.expires_at) - Date.parse(successor.created_at)).toBe(86_400_000);
    const revoked = await admin('keys', 'revoke', successor.id, '--yes', '--json');
    expect(JSON.parse(revoked.stdout).state).toBe('revoked');
  });
});

describe('serve --trusted-proxy (AK-01)', () => {
  it('an address that is not an IP or CIDR stops the server before it starts: one line, exit 1', async () => {
    const tmp = scratch();
    try {
      const res = await runCli(
        [
          'serve',
          '--db',
          tmp.dbUrl,
          '--port',
          '0',
          '--trusted-proxy',
          '10.0.0.0/8',
          '--trusted-proxy',
          'proxy.internal',
        ],
        {
          env: { CLAVIS_KEK_FILE: join(tmp.dir, 'kek') },
        },
      );
      expect(res.code).toBe(1);
      expect(res.stderr).toBe('clavis: trusted proxy "proxy.internal" is not an IP address or CIDR\n');
    } finally {
      tmp.remove();
    }
  });
});
