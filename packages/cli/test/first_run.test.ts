/**
 * The traps of a first start, as real processes: the admin is created only once the port is bound (so
 * its one-time password is printed by the start that created it), a later start says how to set a lost
 * password, and every setting `serve` reads gets a one-line error naming it when its value is bad.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, PG_BASE_URL } from '../../../test/support/dialects.js';
import { freePort } from '../../../test/support/free_port.js';
import {
  BIN,
  childEnv,
  countRows,
  lines,
  NODE,
  type Scratch,
  scratch,
  spawnCli,
  startCli,
} from './support/cli.js';

type Started = ReturnType<typeof startCli>;

async function bannerOf(server: Started): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (!server.out.stderr.includes('Next steps:')) {
    if (server.child.exitCode !== null) throw new Error(`clavis serve exited early:\n${server.out.stderr}`);
    if (Date.now() > deadline) throw new Error(`clavis serve never started:\n${server.out.stderr}`);
    await delay(50);
  }
  return server.out.stderr;
}

async function stop(server: Started): Promise<number | null> {
  server.child.kill('SIGTERM');
  return (await server.exited).code;
}

function hold(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

describe('first start', () => {
  const cleanup: Array<() => void | Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  const tracked = (s: Started): Started => {
    cleanup.push(async () => {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL');
        await s.exited;
      }
    });
    return s;
  };

  it('a port already taken creates no admin; the start that binds prints the password; later starts say how to set one', async () => {
    const tmp: Scratch = scratch();
    cleanup.push(() => tmp.remove());
    const port = await freePort();
    const holder = await hold(port);

    const refused = await spawnCli(['serve', '--db', tmp.dbUrl, '--port', String(port)], childEnv());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('clavis: the port is already in use\n');
    expect(countRows(tmp.dbPath, 'users')).toBe(0);
    expect(countRows(tmp.dbPath, 'audit_events', "event = 'server.bootstrap'")).toBe(0);
    await new Promise<void>((resolve) => holder.close(() => resolve()));

    const first = tracked(startCli(['serve', '--db', tmp.dbUrl, '--port', String(port)], childEnv()));
    const banner = await bannerOf(first);
    expect(banner).toMatch(/^ {2}admin one-time password: \S{16,}$/m);
    expect(banner).not.toContain('set-password');
    expect(await stop(first)).toBe(0);

    const later = tracked(startCli(['serve', '--db', tmp.dbUrl, '--port', String(port)], childEnv()));
    const again = await bannerOf(later);
    expect(again).not.toContain('one-time password');
    expect(again).toContain(
      `set a new one: npm run --silent clavis -- admin --db sqlite:${tmp.dbPath} users set-password admin`,
    );
    expect(await stop(later)).toBe(0);
  });

  it('with CLAVIS_ADMIN_PASSWORD chosen, a later start has nothing to say about the password', async () => {
    const tmp = scratch();
    cleanup.push(() => tmp.remove());
    const port = await freePort();
    const env = childEnv({ CLAVIS_ADMIN_PASSWORD: 'chosen-by-the-operator-123' });
    for (let i = 0; i < 2; i++) {
      const s = tracked(startCli(['serve', '--db', tmp.dbUrl, '--port', String(port)], env));
      expect(await bannerOf(s)).not.toContain('set-password');
      expect(await stop(s)).toBe(0);
    }
  });
});

describe('a bad setting is one line naming it, and nothing is created', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['CLAVIS_PORT', 'abc', /^clavis: CLAVIS_PORT: "abc" must be a port number \(0-65535\)$/],
    ['CLAVIS_PORT', '70000', /^clavis: CLAVIS_PORT: "70000" must be a port number/],
    ['CLAVIS_HOST', '999.1.1.1', /^clavis: CLAVIS_HOST: "999\.1\.1\.1" is not an IP address or host name$/],
    ['CLAVIS_HOST', 'bad host', /^clavis: CLAVIS_HOST: /],
    ['CLAVIS_ISSUER', 'not a url', /^clavis: CLAVIS_ISSUER: issuer "not a url" is not a URL$/],
    ['CLAVIS_ISSUER', 'http://example.com', /^clavis: CLAVIS_ISSUER: the issuer must be an https URL/],
    [
      'CLAVIS_LOG_LEVEL',
      'loud',
      /^clavis: CLAVIS_LOG_LEVEL: "loud" is not one of fatal, error, warn, info, debug, trace, silent$/,
    ],
    [
      'CLAVIS_SIGNING_ALG',
      'HS256',
      /^clavis: CLAVIS_SIGNING_ALG: "HS256" is not one of EdDSA, ES256, RS256$/,
    ],
    ['CLAVIS_TRUSTED_PROXIES', '10.0.0.0/8,nope', /^clavis: CLAVIS_TRUSTED_PROXIES: trusted proxy "nope"/],
    ['CLAVIS_ASSERTION_AUDIENCE', 'anything', /^clavis: CLAVIS_ASSERTION_AUDIENCE: must be issuer or /],
    [
      'CLAVIS_AUDIT_ANCHOR_CHECK',
      'maybe',
      /^clavis: CLAVIS_AUDIT_ANCHOR_CHECK: "maybe" is not one of refuse, warn$/,
    ],
    ['CLAVIS_DB', 'mysql://db', /^clavis: CLAVIS_DB: database URL must start with sqlite: or postgres:\/\/$/],
    ['CLAVIS_KEK', 'short', /^clavis: CLAVIS_KEK must be 32 bytes/],
    ['CLAVIS_API_KEY_MAX_TTL', '5x', /^clavis: CLAVIS_API_KEY_MAX_TTL: invalid duration "5x"/],
    ['CLAVIS_API_KEY_MINT_MAX_TTL', '-1h', /^clavis: CLAVIS_API_KEY_MINT_MAX_TTL: invalid duration/],
    ['CLAVIS_API_KEY_IDLE_REVOKE', 'soon', /^clavis: CLAVIS_API_KEY_IDLE_REVOKE: invalid duration/],
    ['CLAVIS_SHUTDOWN_TIMEOUT', '10', /^clavis: CLAVIS_SHUTDOWN_TIMEOUT: invalid duration "10"/],
    ['CLAVIS_SHUTDOWN_TIMEOUT', '2h', /^clavis: CLAVIS_SHUTDOWN_TIMEOUT: must be at most 1h$/],
    ['CLAVIS_UPSTREAM_TIMEOUT', '5', /^clavis: CLAVIS_UPSTREAM_TIMEOUT: invalid duration "5"/],
    ['CLAVIS_UPSTREAM_TIMEOUT', '0s', /^clavis: CLAVIS_UPSTREAM_TIMEOUT: a duration/],
    ['CLAVIS_UPSTREAM_TIMEOUT', '2m', /^clavis: CLAVIS_UPSTREAM_TIMEOUT: must be between 1s and 1m$/],
    ['CLAVIS_SHUTDOWN_DRAIN', 'later', /^clavis: CLAVIS_SHUTDOWN_DRAIN: invalid duration "later"/],
    ['CLAVIS_ORG_NAME', '   ', /^clavis: CLAVIS_ORG_NAME: the organisation name must be 1 to 80 printable/],
    [
      'CLAVIS_ORG_LOGO_FILE',
      'logo.gif',
      /^clavis: CLAVIS_ORG_LOGO_FILE: must be a \.png, \.svg, \.jpg or \.webp file$/,
    ],
    [
      'CLAVIS_ORG_LOGO_FILE',
      '/nonexistent/logo.png',
      /^clavis: CLAVIS_ORG_LOGO_FILE: cannot read \/nonexistent\/logo\.png \(ENOENT\)$/,
    ],
    [
      'CLAVIS_SCOPE_DESCRIPTIONS_FILE',
      '/nonexistent/scopes.json',
      /^clavis: CLAVIS_SCOPE_DESCRIPTIONS_FILE: cannot read /,
    ],
  ];

  it.each(cases)('%s=%s', async (name, value, expected) => {
    const tmp = scratch();
    try {
      // CLAVIS_DB is the only way to name the database here, so that a bad CLAVIS_DB is read.
      const env = childEnv({ CLAVIS_DB: tmp.dbUrl, CLAVIS_PORT: '0', [name]: value });
      const res = await spawnCli(['serve'], env);
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(lines(res.stderr)).toHaveLength(1);
      expect(res.stderr.trimEnd()).toMatch(expected);
      expect(readdirSync(tmp.dir)).toEqual([]);
    } finally {
      tmp.remove();
    }
  });
});

async function schemaExists(url: string): Promise<boolean> {
  const schema = new URL(url).searchParams.get('schema');
  const client = new pg.Client({ connectionString: PG_BASE_URL });
  await client.connect();
  try {
    const res = await client.query('select 1 from pg_namespace where nspname = $1', [schema]);
    return res.rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('an admin command never creates a database or a key-encryption key', () => {
  it('a mistyped --db in a folder that does not exist: one line naming the path, exit 1, nothing made', async () => {
    const tmp = scratch();
    try {
      const missing = join(tmp.dir, 'nonexistent', 'dir', 'x.db');
      const res = await spawnCli(['admin', '--db', `sqlite:${missing}`, 'clients', 'list'], childEnv());
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toBe(
        `clavis: no Clavis database at ${missing}; check --db or CLAVIS_DB (only clavis serve or clavis admin init creates one)\n`,
      );
      expect(readdirSync(tmp.dir)).toEqual([]);
    } finally {
      tmp.remove();
    }
  });

  it('a file that is not a Clavis database is refused and left as it was', async () => {
    const tmp = scratch();
    try {
      writeFileSync(tmp.dbPath, '');
      const res = await spawnCli(['admin', '--db', tmp.dbUrl, 'users', 'list'], childEnv());
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/^clavis: no Clavis database at /);
      expect(readdirSync(tmp.dir).filter((f) => !f.startsWith('clavis.db'))).toEqual([]);
      expect(countRows(tmp.dbPath, 'users')).toBe(0);
    } catch (err) {
      // countRows on an empty file has no table: that is the point.
      if (!/no such table/.test(String(err))) throw err;
    } finally {
      tmp.remove();
    }
  });

  it('admin init creates the database and the key file, once; the other commands then work', async () => {
    const tmp = scratch();
    try {
      const first = await spawnCli(['admin', '--db', tmp.dbUrl, 'init', '--json'], childEnv());
      expect(first.code).toBe(0);
      expect(JSON.parse(first.stdout)).toEqual({
        database: tmp.dbUrl,
        key_encryption_key: join(tmp.dir, 'clavis.kek'),
        admin_created: false,
      });
      expect(existsSync(join(tmp.dir, 'clavis.kek'))).toBe(true);
      const again = await spawnCli(['admin', '--db', tmp.dbUrl, 'init'], childEnv());
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(`database  ${tmp.dbUrl}`);
      const list = await spawnCli(['admin', '--db', tmp.dbUrl, 'clients', 'list', '--json'], childEnv());
      expect(list).toMatchObject({ code: 0, stdout: '[]\n', stderr: '' });
    } finally {
      tmp.remove();
    }
  });

  it('a database set up with a key file that is not there is refused without making a new key', async () => {
    const tmp = scratch();
    try {
      expect((await spawnCli(['admin', '--db', tmp.dbUrl, 'init'], childEnv())).code).toBe(0);
      const elsewhere = join(tmp.dir, 'other.kek');
      const res = await spawnCli(
        ['admin', '--db', tmp.dbUrl, 'clients', 'list'],
        childEnv({ CLAVIS_KEK_FILE: elsewhere }),
      );
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(
        /^clavis: this database was set up with a key-encryption key that is not here/,
      );
      expect(existsSync(elsewhere)).toBe(false);
    } finally {
      tmp.remove();
    }
  });

  if (dialects.includes('postgres')) {
    it('postgres: a schema that does not exist is refused and not created; admin init creates it', async () => {
      const database = await createTestDatabase('postgres');
      try {
        const env = childEnv({ CLAVIS_KEK_FILE: join(database.dir, 'clavis.kek') });
        const res = await spawnCli(['admin', '--db', database.url, 'clients', 'list'], env);
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(
          /^clavis: no Clavis database at postgres:\/\/.* \(schema t_[0-9a-f]+\); check --db/,
        );
        expect(await schemaExists(database.url)).toBe(false);
        expect(existsSync(join(database.dir, 'clavis.kek'))).toBe(false);
        expect((await spawnCli(['admin', '--db', database.url, 'init'], env)).code).toBe(0);
        expect(await schemaExists(database.url)).toBe(true);
        const list = await spawnCli(['admin', '--db', database.url, 'clients', 'list', '--json'], env);
        expect(list).toMatchObject({ code: 0, stdout: '[]\n' });
      } finally {
        await database.drop();
      }
    });
  }
});

describe('Ctrl-C', () => {
  it('cancels a command that is waiting (here for a password on stdin): exit 2, one line', async () => {
    const tmp = scratch();
    try {
      expect((await spawnCli(['admin', '--db', tmp.dbUrl, 'init'], childEnv())).code).toBe(0);
      const child = spawn(
        NODE,
        [BIN, 'admin', '--db', tmp.dbUrl, 'users', 'create', 'ada', '--password-stdin'],
        {
          env: childEnv(),
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      // Once the database is open the command is reading stdin, which stays open.
      await delay(1500);
      child.kill('SIGINT');
      expect(await exited).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toBe('clavis: cancelled\n');
      expect(countRows(tmp.dbPath, 'users')).toBe(0);
    } finally {
      tmp.remove();
    }
  });
});
