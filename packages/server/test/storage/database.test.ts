import { resolve } from 'node:path';
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
      await sql`delete from kysely_migration where name = '0008_username_case_insensitive'`.execute(
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
    expect(err.message).toBe('migration 0008_username_case_insensitive failed');
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
