/**
 * A device code names its request (`dev_….<secret>`): polls find the row by its id and check the hash of
 * the code in constant time, so the unique index on `device_codes.device_code_hash` goes. Its entries
 * were random, so every new request dirtied a page of it somewhere; the id's index grows at its end.
 * Codes issued before this version no longer match any request (they lived at most the device-code
 * lifetime, ten minutes by default): a sign-in in progress across the upgrade is started again.
 * SQLite cannot drop a constraint declared in its table: the table is rebuilt.
 */
import { type Kysely, sql } from 'kysely';
import { isSqlite } from '../raw.js';

const COLUMNS = `"id", "device_code_hash", "user_code", "client_id", "scopes", "status", "interval",
  "last_polled_at", "created_at", "expires_at", "requester_ip", "requester_user_agent", "claimed_by_session",
  "user_id", "decided_at", "consumed_at", "family_id", "auth_time", "amr"`;

const SQLITE_DEVICE_CODES = (table: string) => `create table "${table}" ("id" text primary key,
  "device_code_hash" text not null, "user_code" text not null unique, "client_id" text not null,
  "scopes" text not null, "status" text not null, "interval" integer not null, "last_polled_at" bigint,
  "created_at" bigint not null, "expires_at" bigint not null, "requester_ip" text,
  "requester_user_agent" text, "claimed_by_session" text, "user_id" text, "decided_at" bigint,
  "consumed_at" bigint, "family_id" text, "auth_time" bigint, "amr" text)`;

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
async function sqliteRebuild(db: Kysely<any>, hashUnique: boolean): Promise<void> {
  // Idempotent, and one transaction of its own (SQLite runs migrations outside one, and a second process
  // opening a new file at the same moment may run this again): a crash half-way leaves the old table.
  const current = await sql<{
    sql: string;
  }>`select sql from sqlite_master where type = 'table' and name = 'device_codes'`.execute(db);
  const isUnique = /"device_code_hash" text not null unique/.test(current.rows[0]?.sql ?? '');
  if (isUnique === hashUnique) return;
  await db.transaction().execute(async (tx) => {
    await sql.raw('drop table if exists device_codes_rebuilt').execute(tx);
    const ddl = SQLITE_DEVICE_CODES('device_codes_rebuilt');
    await sql
      .raw(hashUnique ? ddl.replace('"device_code_hash" text not null', '$& unique') : ddl)
      .execute(tx);
    await sql
      .raw(`insert into device_codes_rebuilt (${COLUMNS}) select ${COLUMNS} from device_codes`)
      .execute(tx);
    await sql.raw('drop table device_codes').execute(tx);
    await sql.raw('alter table device_codes_rebuilt rename to device_codes').execute(tx);
    await sql.raw('create index if not exists device_codes_expiry on device_codes (expires_at)').execute(tx);
  });
}

/** The name of PostgreSQL's unique constraint on `device_codes.device_code_hash`, if there is one. */
// biome-ignore lint/suspicious/noExplicitAny: see sqliteRebuild().
async function pgHashConstraint(db: Kysely<any>): Promise<string | undefined> {
  const found = await sql<{ name: string }>`
    select c.conname as name from pg_constraint c
    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
    where c.conrelid = 'device_codes'::regclass and c.contype = 'u' and cardinality(c.conkey) = 1
      and a.attname = 'device_code_hash'`.execute(db);
  return found.rows[0]?.name;
}

// biome-ignore lint/suspicious/noExplicitAny: see sqliteRebuild().
export async function up(db: Kysely<any>): Promise<void> {
  if (isSqlite(db)) return sqliteRebuild(db, false);
  const name = await pgHashConstraint(db);
  if (name) await sql`alter table device_codes drop constraint ${sql.id(name)}`.execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: see sqliteRebuild().
export async function down(db: Kysely<any>): Promise<void> {
  if (isSqlite(db)) return sqliteRebuild(db, true);
  if (!(await pgHashConstraint(db))) {
    await sql`alter table device_codes add constraint device_codes_device_code_hash_key unique (device_code_hash)`.execute(
      db,
    );
  }
}
