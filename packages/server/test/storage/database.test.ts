import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseUrlError, openDatabase, parseDatabaseUrl } from '@clavis/server';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../../src/storage/migrations/index.js';
import { createTestDatabase, dialects, PG_BASE_URL, type TestDatabase } from '../support/dialects.js';

describe('parseDatabaseUrl', () => {
  it.each([
    ['sqlite:./clavis.db', { dialect: 'sqlite', target: resolve('clavis.db') }],
    ['sqlite:/var/lib/clavis/clavis.db', { dialect: 'sqlite', target: '/var/lib/clavis/clavis.db' }],
    ['sqlite:///var/lib/clavis.db', { dialect: 'sqlite', target: '/var/lib/clavis.db' }],
    ['sqlite::memory:', { dialect: 'sqlite', target: ':memory:' }],
    [
      'postgres://u@db.example:5432/clavis',
      { dialect: 'postgres', target: 'postgres://u@db.example:5432/clavis' },
    ],
    ['postgresql://u@db.example/clavis', { dialect: 'postgres', target: 'postgresql://u@db.example/clavis' }],
    [
      'postgres://u:p@db.example/clavis?schema=tenant_1&sslmode=require',
      { dialect: 'postgres', target: 'postgres://u:p@db.example/clavis?sslmode=require', schema: 'tenant_1' },
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

/** The database holds password hashes, live user codes and addresses: no other local user may read it. */
describe('SQLite file modes', () => {
  const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
  const files = (path: string) => [path, `${path}-wal`, `${path}-shm`].filter((f) => existsSync(f));
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('creates the database, WAL and SHM files 0600, and they stay so after writes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'clavis-mode-'));
    const path = join(dir, 'sub', 'clavis.db');
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
    dir = mkdtempSync(join(tmpdir(), 'clavis-mode-'));
    const path = join(dir, 'clavis.db');
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
