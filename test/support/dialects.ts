/**
 * The databases every storage-touching test runs against: a real SQLite file and a real PostgreSQL
 * schema of its own (so runs never collide). `CLAVIS_TEST_DIALECTS=sqlite` limits the set on machines
 * without PostgreSQL; CI runs both and fails if PostgreSQL is unreachable.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { tempDir } from './temp_dir.js';

export type TestDialect = 'sqlite' | 'postgres';

export const PG_BASE_URL = process.env.CLAVIS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const dialects: TestDialect[] = (process.env.CLAVIS_TEST_DIALECTS ?? 'sqlite,postgres')
  .split(',')
  .map((d) => d.trim())
  .filter((d): d is TestDialect => d === 'sqlite' || d === 'postgres');

export interface TestDatabase {
  dialect: TestDialect;
  url: string;
  /** A directory for this database's files (SQLite file, KEK file). */
  dir: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(dialect: TestDialect): Promise<TestDatabase> {
  const { path: dir, remove } = tempDir('clavis-test-');
  if (dialect === 'sqlite') {
    return {
      dialect,
      url: `sqlite:${join(dir, 'clavis.db')}`,
      dir,
      drop: async () => remove(),
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const url = new URL(PG_BASE_URL);
  url.searchParams.set('schema', schema);
  return {
    dialect,
    url: url.toString(),
    dir,
    async drop() {
      const client = new pg.Client({ connectionString: PG_BASE_URL });
      await client.connect();
      try {
        await client.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await client.end();
      }
      remove();
    },
  };
}
