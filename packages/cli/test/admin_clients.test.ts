/**
 * `clavis admin --db URL clients create|list|show|delete|rotate-secret`, in-process over a real SQLite
 * file (and a fresh PostgreSQL schema for create/list). Secrets appear only in the output of the command
 * that made them, and are stored only as hashes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../test/support/dialects.js';
import { countRows, initDatabase, lines, runCli, type Scratch, scratch, withSqlite } from './support/cli.js';

interface ClientJson {
  client_id: string;
  name: string;
  kind: string;
  token_endpoint_auth_method: string;
  grant_types: string[];
  scopes: string[];
  access_token_ttl: number;
  client_secret?: string;
}

const SECRET = /^clvs_[A-Za-z0-9_-]{43}$/;

describe('clients on SQLite', () => {
  let tmp: Scratch;
  const admin = (...args: string[]) => runCli(['admin', '--db', tmp.dbUrl, ...args]);
  let created: ClientJson;

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    const res = await admin(
      'clients',
      'create',
      '--name',
      'X',
      '--kind',
      'confidential',
      '--scope',
      'read',
      '--json',
    );
    expect(res).toMatchObject({ code: 0, stderr: '' });
    created = JSON.parse(res.stdout) as ClientJson;
  });
  afterAll(() => tmp.remove());

  describe('create', () => {
    it('prints the client as JSON with client_id and a clvs_ secret of 256 bits', () => {
      expect(created).toMatchObject({
        client_id: expect.stringMatching(/^svc_/),
        name: 'X',
        kind: 'confidential',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        scopes: ['read'],
        access_token_ttl: 600,
      });
      expect(created.client_secret).toMatch(SECRET);
    });

    it('stores the secret only as a hash: the plaintext is nowhere in the database file', () => {
      const secret = created.client_secret ?? '';
      const hashes = withSqlite(tmp.dbPath, (db) =>
        db.prepare('select * from client_secrets where client_id = ?').all(created.client_id),
      );
      expect(hashes).toHaveLength(1);
      expect(JSON.stringify(hashes)).not.toContain(secret);
      expect(JSON.stringify(hashes)).not.toContain(secret.slice(5));
      for (const file of ['clavis.db', 'clavis.db-wal']) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(join(tmp.dir, file));
        } catch {
          continue;
        }
        expect(bytes.includes(secret.slice(5))).toBe(false);
      }
    });

    it('without --json prints the secret once on stdout and tells the person on stderr to store it', async () => {
      const res = await admin('clients', 'create', '--name', 'plain', '--kind', 'confidential');
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/^client_id\s+svc_/m);
      expect(res.stdout).toMatch(/^client_secret\s+clvs_[A-Za-z0-9_-]{43}$/m);
      expect(res.stderr).toBe('Store the client secret now: it is shown only this once.\n');
    });

    it('a public client gets no secret', async () => {
      const res = await admin('clients', 'create', '--name', 'device app', '--kind', 'public', '--json');
      expect(res.code).toBe(0);
      const body = JSON.parse(res.stdout) as ClientJson;
      expect(body.client_id).toMatch(/^cli_/);
      expect(body.token_endpoint_auth_method).toBe('none');
      expect(body).not.toHaveProperty('client_secret');
    });
  });

  describe('list', () => {
    it('lists the client as JSON and never prints a secret', async () => {
      const res = await admin('clients', 'list', '--json');
      expect(res).toMatchObject({ code: 0, stderr: '' });
      const all = JSON.parse(res.stdout) as ClientJson[];
      expect(all.map((c) => c.client_id)).toContain(created.client_id);
      for (const c of all) expect(c).not.toHaveProperty('client_secret');
      expect(res.stdout).not.toContain('"client_secret"');
      expect(res.stdout).not.toContain('clvs_');
    });

    it('the table form never prints a secret either', async () => {
      const res = await admin('clients', 'list');
      expect(res.code).toBe(0);
      expect(lines(res.stdout)[0]).toMatch(/^CLIENT_ID\s+KIND\s+AUTH\s+NAME$/);
      expect(res.stdout).toContain(created.client_id);
      expect(res.stdout).not.toContain('clvs_');
    });
  });

  describe('show', () => {
    it('shows one client as JSON, without its secret', async () => {
      const res = await admin('clients', 'show', created.client_id, '--json');
      expect(res).toMatchObject({ code: 0, stderr: '' });
      const { client_secret: _secret, ...withoutSecret } = created;
      expect(JSON.parse(res.stdout)).toEqual(withoutSecret);
    });

    it('an unknown client is one error line and exit 1', async () => {
      const res = await admin('clients', 'show', 'svc_nope', '--json');
      expect(res).toEqual({ code: 1, stdout: '', stderr: 'clavis: no client svc_nope\n' });
    });
  });

  describe('rotate-secret', () => {
    it('prints a new secret and when the previous ones stop working', async () => {
      const before = Date.now();
      const res = await admin('clients', 'rotate-secret', created.client_id, '--grace', '1h', '--json');
      const after = Date.now();
      expect(res).toMatchObject({ code: 0, stderr: '' });
      const body = JSON.parse(res.stdout) as {
        client_id: string;
        client_secret: string;
        previous_secrets_expire_at: string;
      };
      expect(Object.keys(body).sort()).toEqual(['client_id', 'client_secret', 'previous_secrets_expire_at']);
      expect(body.client_id).toBe(created.client_id);
      expect(body.client_secret).toMatch(SECRET);
      expect(body.client_secret).not.toBe(created.client_secret);
      const expiresAt = Date.parse(body.previous_secrets_expire_at);
      expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600_000 - 1000);
      expect(expiresAt).toBeLessThanOrEqual(after + 3_600_000);
      // Both secrets are now stored (hashed): the old one until the grace ends, the new one after.
      expect(countRows(tmp.dbPath, 'client_secrets', `client_id = '${created.client_id}'`)).toBe(2);
    });

    it('refuses a client that has no secret', async () => {
      const pub = JSON.parse(
        (await admin('clients', 'create', '--name', 'p', '--kind', 'public', '--json')).stdout,
      ) as ClientJson;
      const res = await admin('clients', 'rotate-secret', pub.client_id, '--json');
      expect(res).toEqual({
        code: 1,
        stdout: '',
        stderr: `clavis: client ${pub.client_id} authenticates with none, not a secret\n`,
      });
    });
  });

  describe('delete', () => {
    it('deletes the client and its secrets', async () => {
      const victim = JSON.parse(
        (await admin('clients', 'create', '--name', 'victim', '--kind', 'confidential', '--json')).stdout,
      ) as ClientJson;
      const res = await admin('clients', 'delete', victim.client_id, '--yes');
      expect(res).toEqual({ code: 0, stdout: '', stderr: `Deleted client ${victim.client_id}.\n` });
      expect(countRows(tmp.dbPath, 'clients', `id = '${victim.client_id}'`)).toBe(0);
      expect(countRows(tmp.dbPath, 'client_secrets', `client_id = '${victim.client_id}'`)).toBe(0);
      const show = await admin('clients', 'show', victim.client_id);
      expect(show.code).toBe(1);
      const again = await admin('clients', 'delete', victim.client_id, '--yes');
      expect(again).toEqual({ code: 1, stdout: '', stderr: `clavis: no client ${victim.client_id}\n` });
    });
  });

  describe('audit list', () => {
    it('shows client.create for the new client, attributed to the operator, without any secret', async () => {
      const res = await admin('audit', 'list', '--json', '--client', created.client_id);
      expect(res).toMatchObject({ code: 0, stderr: '' });
      const records = JSON.parse(res.stdout) as Array<{
        event: string;
        outcome: string;
        actor_type: string;
        actor_id: string;
        client_id: string;
        detail: Record<string, unknown>;
      }>;
      const create = records.find((r) => r.event === 'client.create');
      expect(create).toMatchObject({
        outcome: 'success',
        actor_type: 'admin',
        actor_id: expect.stringMatching(/^os:/),
        client_id: created.client_id,
        detail: { name: 'X', kind: 'confidential', auth_method: 'client_secret_basic', scopes: ['read'] },
      });
      expect(records.map((r) => r.event)).toContain('client.secret_rotate');
      expect(res.stdout).not.toContain('clvs_');
    });
  });
});

describe.skipIf(!dialects.includes('postgres'))('clients on PostgreSQL (a fresh schema)', () => {
  let database: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // The key file would otherwise land in the working directory.
    env = { CLAVIS_KEK_FILE: join(database.dir, 'clavis.kek') };
    await initDatabase(database.url, env);
  });
  afterAll(() => database.drop());

  it('creates a client and lists it', async () => {
    const create = await runCli(
      [
        'admin',
        '--db',
        database.url,
        'clients',
        'create',
        '--name',
        'pg',
        '--kind',
        'confidential',
        '--scope',
        'read',
        '--json',
      ],
      { env },
    );
    expect(create).toMatchObject({ code: 0, stderr: '' });
    const body = JSON.parse(create.stdout) as ClientJson;
    expect(body.client_secret).toMatch(SECRET);

    const list = await runCli(['admin', '--db', database.url, 'clients', 'list', '--json'], { env });
    expect(list).toMatchObject({ code: 0, stderr: '' });
    expect((JSON.parse(list.stdout) as ClientJson[]).map((c) => c.client_id)).toEqual([body.client_id]);
    expect(list.stdout).not.toContain('clvs_');
  });
});
