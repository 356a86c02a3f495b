import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseUrlError, openDatabase, parseDatabaseUrl } from '@clavis/server';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  dialects,
  PG_BASE_URL,
  type TestDatabase,
} from '../../../../test/support/dialects.js';
import { type TempDir, tempDir } from '../../../../test/support/temp_dir.js';
import { findDeviceCode, insertDeviceCode } from '../../src/device/device_store.js';
import { userCodesAtRest } from '../../src/device/user_code_at_rest.js';
import { pgTimeoutDefaults } from '../../src/storage/database.js';
import { migrations } from '../../src/storage/migrations/index.js';
import { pgPoolConfigs } from '../../src/storage/pg_pool.js';
import { runOp } from '../../src/storage/store_op.js';
import { deviceCodeRow } from './contract/store.js';

describe('parseDatabaseUrl', () => {
  it.each([
    ['sqlite:./clavis.db', { dialect: 'sqlite', target: resolve('clavis.db') }],
    ['sqlite:/var/lib/clavis/clavis.db', { dialect: 'sqlite', target: '/var/lib/clavis/clavis.db' }],
    ['sqlite:///var/lib/clavis.db', { dialect: 'sqlite', target: '/var/lib/clavis.db' }],
    ['sqlite::memory:', { dialect: 'sqlite', target: ':memory:' }],
    [
      'postgres://u@db.example:5432/clavis',
      { dialect: 'postgres', target: 'postgres://u@db.example:5432/clavis', timeouts: pgTimeoutDefaults },
    ],
    [
      'postgresql://u@db.example/clavis',
      { dialect: 'postgres', target: 'postgresql://u@db.example/clavis', timeouts: pgTimeoutDefaults },
    ],
    [
      'postgres://u:p@db.example/clavis?schema=tenant_1&sslmode=require',
      {
        dialect: 'postgres',
        target: 'postgres://u:p@db.example/clavis?sslmode=require',
        schema: 'tenant_1',
        timeouts: pgTimeoutDefaults,
      },
    ],
    [
      'postgres://u@db.example/clavis?lock_timeout=500ms&statement_timeout=3s&connect_timeout=10',
      {
        dialect: 'postgres',
        target: 'postgres://u@db.example/clavis',
        timeouts: { lockMs: 500, statementMs: 3000, connectMs: 10_000 },
      },
    ],
    [
      'postgres://u@db.example/clavis?lock_timeout=0&statement_timeout=1min&connect_timeout=2s',
      {
        dialect: 'postgres',
        target: 'postgres://u@db.example/clavis',
        timeouts: { lockMs: 0, statementMs: 60_000, connectMs: 2000 },
      },
    ],
  ])('accepts %s', (url, expected) => {
    expect(parseDatabaseUrl(url)).toEqual(expected);
  });

  it.each([
    ['', 'no scheme'],
    ['sqlite:', 'no path'],
    ['clavis.db', 'a bare path'],
    ['mysql://u@h/db', 'another database'],
    ['file:clavis.db', 'another scheme'],
    ['postgres://[bad', 'a malformed URL'],
    ['postgres://u@h/db?schema=Bad-Name', 'a schema that is not a plain identifier'],
    ['postgres://u@h/db?schema=x;drop%20table%20clients', 'a schema carrying SQL'],
    [`postgres://u@h/db?schema=${'a'.repeat(64)}`, 'a schema longer than PostgreSQL allows'],
    ['postgres://u@h/db?lock_timeout=soon', 'a timeout that is not a duration'],
    ['postgres://u@h/db?statement_timeout=-1', 'a negative timeout'],
    ['postgres://u@h/db?connect_timeout=5h', 'a timeout in a unit PostgreSQL does not take'],
  ])('rejects %s (%s)', (url) => {
    expect(() => parseDatabaseUrl(url)).toThrow(DatabaseUrlError);
  });
});

describe.each(dialects)('migrations (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('are idempotent: opening twice keeps data and runs each migration once', async () => {
    database = await createTestDatabase(dialect);
    const first = await openDatabase(database.url);
    await first.db.insertInto('settings').values({ key: 'kept', value: 'yes' }).execute();
    await first.close();

    const second = await openDatabase(database.url);
    try {
      expect(await second.db.selectFrom('settings').selectAll().execute()).toEqual([
        { key: 'kept', value: 'yes' },
      ]);
      const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(
        second.db,
      );
      expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations));
    } finally {
      await second.close();
    }
  });
});

describe.each(dialects)('usernames unique regardless of case (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('the migration refuses a database holding names that differ only in case, naming them', async () => {
    database = await createTestDatabase(dialect);
    const opened = await openDatabase(database.url);
    try {
      // As a database from before the index: the index and its migration record gone, a clash stored.
      await sql`drop index users_username_lower`.execute(opened.db);
      // Later migrations are undone too, newest first, so the migrator sees a prefix of its list.
      const later = Object.keys(migrations)
        .filter((name) => name > '0007_username_case_insensitive')
        .reverse();
      for (const name of later) await migrations[name]?.down?.(opened.db);
      await sql`delete from kysely_migration where name >= '0007_username_case_insensitive'`.execute(
        opened.db,
      );
      for (const [id, username] of [
        ['usr_a', 'Ada'],
        ['usr_b', 'ada'],
      ] as const) {
        await opened.db
          .insertInto('users')
          .values({
            id,
            username,
            password_hash: null,
            is_admin: 0,
            must_change_password: 0,
            totp_secret: null,
            created_at: 0,
            disabled_at: null,
          })
          .execute();
      }
    } finally {
      await opened.close();
    }
    const err = await openDatabase(database.url).then(
      async (again) => {
        await again.close();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    if (!err) throw new Error('the migration should have failed');
    expect(err.message).toBe('migration 0007_username_case_insensitive failed');
    expect((err.cause as Error).message).toMatch(
      /^usernames must be unique regardless of case, but these differ only in case: "ada" \(2 accounts\)\./,
    );
  });

  it('with the index, a second name differing only in case cannot be stored', async () => {
    database = await createTestDatabase(dialect);
    const opened = await openDatabase(database.url);
    try {
      const row = (id: string, username: string) => ({
        id,
        username,
        password_hash: null,
        is_admin: 0,
        must_change_password: 0,
        totp_secret: null,
        created_at: 0,
        disabled_at: null,
      });
      await opened.db.insertInto('users').values(row('usr_a', 'Ada')).execute();
      await expect(opened.db.insertInto('users').values(row('usr_b', 'aDA')).execute()).rejects.toThrow();
    } finally {
      await opened.close();
    }
  });
});

describe.each(dialects)('device codes found by their id (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('the migration keeps every request and drops the unique index on the code hash; down restores it', async () => {
    database = await createTestDatabase(dialect);
    const now = Date.now();
    const opened = await openDatabase(database.url);
    try {
      // As a database from before: the migration undone and its record gone, a request stored.
      await migrations['0013_device_code_by_id']?.down?.(opened.db);
      await sql`delete from kysely_migration where name >= '0013_device_code_by_id'`.execute(opened.db);
      await runOp(opened.db, insertDeviceCode(deviceCodeRow('dev_before', now, { device_code_hash: 'h' })));
      await expect(
        runOp(opened.db, insertDeviceCode(deviceCodeRow('dev_twin', now, { device_code_hash: 'h' }))),
      ).rejects.toThrow();
    } finally {
      await opened.close();
    }
    const again = await openDatabase(database.url);
    try {
      // The code was stored in the clear: migration 0015 retires it (a placeholder no typed code matches).
      expect(await findDeviceCode(again.db, 'dev_before')).toMatchObject({
        device_code_hash: 'h',
        user_code: 'retired.dev_before',
        status: 'pending',
      });
      // The id binds a code to its row; two rows may carry the same hash (they never will: it covers the id).
      await runOp(again.db, insertDeviceCode(deviceCodeRow('dev_twin', now, { device_code_hash: 'h' })));
      // The user code stays unique, and the expiry index is back after the rebuild.
      await expect(
        runOp(
          again.db,
          insertDeviceCode(deviceCodeRow('dev_other', now, { user_code: 'retired.dev_before' })),
        ),
      ).rejects.toThrow();
      const indexes =
        dialect === 'sqlite'
          ? await sql<{
              name: string;
            }>`select name from sqlite_master where type = 'index' and tbl_name = 'device_codes'`.execute(
              again.db,
            )
          : await sql<{
              name: string;
            }>`select indexname as name from pg_indexes where tablename = 'device_codes' and schemaname = current_schema()`.execute(
              again.db,
            );
      expect(indexes.rows.map((r) => r.name)).toContain('device_codes_expiry');
      const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(
        again.db,
      );
      expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations));
    } finally {
      await again.close();
    }
  });
});

describe.each(dialects)('browser sessions stored by a keyed hash (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('the migration deletes the sessions stored with their cookie token and CSRF token in the clear', async () => {
    database = await createTestDatabase(dialect);
    const now = Date.now();
    const opened = await openDatabase(database.url);
    try {
      // As a database from before: a session whose id is the cookie's token, claiming a pending request.
      await sql`delete from kysely_migration where name >= '0014_session_tokens_hashed'`.execute(opened.db);
      await opened.db
        .insertInto('sessions')
        .values({
          id: 'plain-cookie-token',
          csrf_token: 'plain-csrf-token',
          user_id: null,
          password_at: null,
          mfa_at: null,
          created_at: now,
          expires_at: now + 600_000,
        })
        .execute();
      await runOp(
        opened.db,
        insertDeviceCode(deviceCodeRow('dev_claimed', now, { claimed_by_session: 'plain-cookie-token' })),
      );
    } finally {
      await opened.close();
    }
    const again = await openDatabase(database.url);
    try {
      expect(await again.db.selectFrom('sessions').selectAll().execute()).toEqual([]);
      // The request stays pending, free for the person to enter again from a new session.
      expect(await findDeviceCode(again.db, 'dev_claimed')).toMatchObject({
        status: 'pending',
        claimed_by_session: null,
      });
    } finally {
      await again.close();
    }
  });
});

describe.each(dialects)('user codes stored under a key (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('the migration retires user codes stored in the clear and keeps the stored forms', async () => {
    database = await createTestDatabase(dialect);
    const now = Date.now();
    const stored = userCodesAtRest(randomBytes(32)).stored('BCDFGHJK');
    const opened = await openDatabase(database.url);
    try {
      await sql`delete from kysely_migration where name >= '0015_user_codes_at_rest'`.execute(opened.db);
      await runOp(opened.db, insertDeviceCode(deviceCodeRow('dev_plain', now, { user_code: 'LMNPQRST' })));
      await runOp(opened.db, insertDeviceCode(deviceCodeRow('dev_keyed', now, { user_code: stored })));
    } finally {
      await opened.close();
    }
    const again = await openDatabase(database.url);
    try {
      expect(await findDeviceCode(again.db, 'dev_plain')).toMatchObject({
        user_code: 'retired.dev_plain',
        status: 'pending',
      });
      expect(await findDeviceCode(again.db, 'dev_keyed')).toMatchObject({ user_code: stored });
    } finally {
      await again.close();
    }
  });
});

describe.each(dialects)('idempotency records keyed (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('the migration retires request hashes stored unkeyed, keeping the sealed responses', async () => {
    database = await createTestDatabase(dialect);
    const now = Date.now();
    const opened = await openDatabase(database.url);
    try {
      await sql`delete from kysely_migration where name >= '0016_idempotency_hash_keyed'`.execute(opened.db);
      await opened.db
        .insertInto('idempotency_keys')
        .values({
          caller: 'usr_a',
          key: 'k1',
          request_hash: 'an-unkeyed-sha256',
          status: 201,
          response: 'v1.sealed',
          created_at: now,
          expires_at: now + 60_000,
        })
        .execute();
    } finally {
      await opened.close();
    }
    const again = await openDatabase(database.url);
    try {
      expect(await again.db.selectFrom('idempotency_keys').selectAll().execute()).toEqual([
        expect.objectContaining({ key: 'k1', request_hash: 'retired', response: 'v1.sealed' }),
      ]);
    } finally {
      await again.close();
    }
  });
});

/**
 * Several PostgreSQL instances starting together on a fresh database. (SQLite is not covered here: one
 * process never opens one file twice at once, and node:sqlite's busy wait is synchronous, so two
 * in-process connections cannot race the way two processes would.)
 */
describe.each(dialects.filter((d) => d === 'postgres'))('concurrent first start (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('three instances opening a fresh schema at once all succeed and migrate it once', async () => {
    database = await createTestDatabase(dialect);
    const url = database.url;
    const opened = await Promise.allSettled([openDatabase(url), openDatabase(url), openDatabase(url)]);
    try {
      expect(opened.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok'))).toEqual([
        'ok',
        'ok',
        'ok',
      ]);
      const [a, b] = opened.map((o) => (o.status === 'fulfilled' ? o.value.db : undefined));
      if (!a || !b) throw new Error('an instance failed to open');
      await a.insertInto('settings').values({ key: 'k', value: 'v' }).execute();
      expect(await b.selectFrom('settings').selectAll().execute()).toEqual([{ key: 'k', value: 'v' }]);
      const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(a);
      expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations));
    } finally {
      for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
    }
  });
});

describe.each(dialects.filter((d) => d === 'postgres'))('database description (%s)', (dialect) => {
  it('never includes the password', async () => {
    const database = await createTestDatabase(dialect);
    try {
      const url = new URL(database.url);
      url.password = 's3cret-pw';
      const opened = await openDatabase(url.toString());
      try {
        expect(opened.description).not.toContain('s3cret-pw');
        expect(opened.description).toContain(new URL(PG_BASE_URL).host);
      } finally {
        await opened.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('PostgreSQL pool settings', () => {
  const parsed = (url: string) => parseDatabaseUrl(url);

  it('a URL without a user name connects as the operating-system user when PGUSER and USER are unset, as psql does', () => {
    const { session, setup } = pgPoolConfigs(parsed('postgres://db.example/clavis'), 10, {});
    for (const config of [session, setup]) {
      expect(new URL(config.connectionString ?? '').username).toBe(encodeURIComponent(userInfo().username));
    }
  });

  it('a user name in the URL or in PGUSER is left to pg', () => {
    const named = pgPoolConfigs(parsed('postgres://alice@db.example/clavis'), 10, {}).session;
    expect(new URL(named.connectionString ?? '').username).toBe('alice');
    const fromEnv = pgPoolConfigs(parsed('postgres://db.example/clavis'), 10, { PGUSER: 'bob' }).session;
    expect(new URL(fromEnv.connectionString ?? '').username).toBe('');
  });

  it('serving connections carry the lock and statement timeouts; the setup connection (migrations) does not', () => {
    const { session, setup } = pgPoolConfigs(
      parsed('postgres://u@db.example/clavis?lock_timeout=300ms&statement_timeout=2s&connect_timeout=3'),
      7,
      {},
    );
    expect(session).toMatchObject({
      max: 7,
      lock_timeout: 300,
      statement_timeout: 2000,
      connectionTimeoutMillis: 3000,
    });
    expect(setup).toMatchObject({ connectionTimeoutMillis: 3000 });
    expect(setup).not.toHaveProperty('lock_timeout');
    expect(setup).not.toHaveProperty('statement_timeout');
    const none = pgPoolConfigs(
      parsed('postgres://u@db.example/clavis?lock_timeout=0&statement_timeout=0'),
      7,
      {},
    );
    expect(none.session).not.toHaveProperty('lock_timeout');
    expect(none.session).not.toHaveProperty('statement_timeout');
  });
});

describe.each(dialects.filter((d) => d === 'postgres'))('a URL without a user name (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('connects as the operating-system user even with USER and PGUSER unset', async () => {
    database = await createTestDatabase(dialect);
    const url = new URL(database.url);
    url.username = '';
    const { setup } = pgPoolConfigs(parseDatabaseUrl(url.toString()), 1, {});
    const pool = new pg.Pool({ ...setup, max: 1 });
    const osUser = userInfo().username;
    try {
      const { rows } = await pool.query<{ u: string }>('select current_user as u');
      expect(rows[0]?.u).toBe(osUser);
    } catch (err) {
      // No role of that name on this server: still, that is the name that was sent.
      expect(String(err)).toContain(`role "${osUser}" does not exist`);
    } finally {
      await pool.end();
    }
  });

  it('openDatabase opens it, whatever USER says', async (ctx) => {
    const admin = new pg.Client({ connectionString: PG_BASE_URL });
    await admin.connect();
    const role = await admin
      .query('select 1 from pg_roles where rolname = $1', [userInfo().username])
      .finally(() => admin.end());
    if (role.rowCount === 0) ctx.skip();
    database = await createTestDatabase(dialect);
    const url = new URL(database.url);
    url.username = '';
    const opened = await openDatabase(url.toString());
    await opened.close();
  });
});

/** The database holds password hashes, live user codes and addresses: no other local user may read it. */
describe('SQLite file modes', () => {
  const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
  const files = (path: string) => [path, `${path}-wal`, `${path}-shm`].filter((f) => existsSync(f));
  let dir: TempDir | undefined;
  afterEach(() => {
    dir?.remove();
    dir = undefined;
  });

  it('creates the database, WAL and SHM files 0600, and they stay so after writes', async () => {
    dir = tempDir('clavis-mode-');
    const path = join(dir.path, 'sub', 'clavis.db');
    const opened = await openDatabase(`sqlite:${path}`);
    try {
      expect(files(path)).toEqual([path, `${path}-wal`, `${path}-shm`]);
      expect(files(path).map(mode)).toEqual(['600', '600', '600']);
      for (let i = 0; i < 50; i++) {
        await opened.db
          .insertInto('settings')
          .values({ key: `k${i}`, value: 'x'.repeat(4096) })
          .execute();
      }
      expect(files(path).map(mode)).toEqual(['600', '600', '600']);
    } finally {
      await opened.close();
    }
  });

  it('tightens a database and WAL files left readable by others when it opens them', async () => {
    dir = tempDir('clavis-mode-');
    const path = join(dir.path, 'clavis.db');
    const first = await openDatabase(`sqlite:${path}`);
    await first.db.insertInto('settings').values({ key: 'k', value: 'v' }).execute();
    await first.close();
    writeFileSync(`${path}-wal`, '');
    for (const f of files(path)) chmodSync(f, 0o644);
    const second = await openDatabase(`sqlite:${path}`);
    try {
      expect(files(path).map(mode)).toEqual(['600', '600', '600']);
      expect(await second.db.selectFrom('settings').selectAll().execute()).toEqual([
        { key: 'k', value: 'v' },
      ]);
    } finally {
      await second.close();
    }
  });
});
