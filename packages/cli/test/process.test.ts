/**
 * The built `clavis` binary as a real process (`node packages/cli/dist/bin.js`, built by `npm run build`):
 * true exit codes, and every error exactly one line on stderr with nothing on stdout.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  childEnv,
  initDatabase,
  lines,
  NODE,
  type Scratch,
  scratch,
  spawnCli,
  withSqlite,
} from './support/cli.js';

describe('node dist/bin.js', () => {
  let tmp: Scratch;
  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
  });
  afterAll(() => tmp.remove());

  it('--version prints the version and exits 0', async () => {
    const res = await spawnCli(['--version']);
    expect(res).toMatchObject({ code: 0, signal: null, stdout: '0.1.0\n', stderr: '' });
  });

  it('clients create --json exits 0 with the client and its secret as JSON on stdout', async () => {
    const res = await spawnCli([
      'admin',
      '--db',
      tmp.dbUrl,
      'clients',
      'create',
      '--name',
      'proc',
      '--kind',
      'confidential',
      '--scope',
      'read',
      '--json',
    ]);
    expect(res).toMatchObject({ code: 0, signal: null, stderr: '' });
    const body = JSON.parse(res.stdout) as { client_id: string; client_secret: string };
    expect(body.client_id).toMatch(/^svc_/);
    expect(body.client_secret).toMatch(/^clvs_/);
  });

  it.each([
    {
      name: 'unknown command',
      argv: ['admin', 'clients', 'craete'],
      first: /^clavis: unknown command 'craete'/,
    },
    {
      name: 'unknown option',
      argv: ['admin', 'clients', 'list', '--bogus'],
      first: /^clavis: unknown option '--bogus'/,
    },
    {
      name: 'bad duration',
      argv: ['admin', 'clients', 'rotate-secret', 'x', '--grace', '5x'],
      first: /^clavis: option '--grace/,
    },
    {
      name: 'bad database URL',
      argv: ['admin', '--db', 'garbage:', 'clients', 'list'],
      first: /^clavis: database URL/,
    },
    {
      name: 'unreachable PostgreSQL',
      argv: ['admin', '--db', 'postgres://127.0.0.1:1/x', 'clients', 'list'],
      first: /^clavis: cannot reach the database \(connection refused\)$/,
    },
    {
      name: '--server with a local-only command',
      argv: ['admin', '--server', 'https://as.example.com', 'backup', 'copy.db'],
      first:
        /^clavis: admin backup is local-only: it needs the database \(and the key-encryption key\) on this machine; use --db$/,
    },
    {
      name: '--kind other',
      argv: ['admin', 'clients', 'create', '--name', 'x', '--kind', 'other'],
      first: /^clavis: --kind must be public or confidential$/,
    },
  ])('$name: exit 1, exactly one stderr line, nothing on stdout', async ({ argv, first }) => {
    // --db first where the case does not name one, so nothing is written to the working directory.
    const full =
      argv.includes('--db') || argv.includes('--server')
        ? argv
        : ['admin', '--db', tmp.dbUrl, ...argv.slice(1)];
    const res = await spawnCli(full, childEnv());
    expect(res.code).toBe(1);
    expect(res.signal).toBeNull();
    expect(res.stdout).toBe('');
    expect(lines(res.stderr)).toHaveLength(1);
    expect(res.stderr.endsWith('\n')).toBe(true);
    expect(lines(res.stderr)[0]).toMatch(first);
  });

  it('audit verify exits 0, then 1 with one stderr line once the file is tampered with', async () => {
    const ok = await spawnCli(['admin', '--db', tmp.dbUrl, 'audit', 'verify']);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toMatch(/^audit log intact: /);

    const { segment, seq } = withSqlite(tmp.dbPath, (db) => {
      const row = db
        .prepare("select segment, seq from audit_events where event = 'client.create' limit 1")
        .get() as { segment: string; seq: number };
      db.prepare(
        "update audit_events set detail = replace(detail, 'proc', 'prod') where segment = ? and seq = ?",
      ).run(row.segment, row.seq);
      return row;
    });
    const broken = await spawnCli(['admin', '--db', tmp.dbUrl, 'audit', 'verify']);
    expect(broken).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `clavis: audit log broken at ${segment}:${seq}: content does not match its hash\n`,
    });
  });

  it('a reader that closes the pipe early (`clavis … | head`) ends it quietly, exit 0', async () => {
    const child = spawn(NODE, [BIN, 'help', 'environment'], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The reading end is gone before the CLI has started, so its first write meets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});
