/**
 * The audit log accounts for every row, anchors its seals and seals abandoned segments:
 * - `audit_events.seq` must be an integer >= 1 (rows outside the chain were never read by the verifier).
 *   SQLite cannot add a CHECK to a table: the table is rebuilt. Rows already present that break the rule
 *   are kept as they are (they are evidence, and `audit verify` reports them); only new rows are refused.
 * - `audit_seals.signature`: the Ed25519 signature of a seal written by `serve` (null for seals written
 *   by an admin command, which holds no audit signing key).
 * - `audit_segments.alive_until`: the writer's lease. A live writer renews it; once it lapses, `serve`
 *   seals the segment's head on the writer's behalf.
 */
import { type Kysely, sql } from 'kysely';
import { isSqlite } from '../raw.js';

const SQLITE_EVENTS = (table: string) => `create table ${table} (
  segment text not null,
  seq bigint not null constraint audit_events_seq_check check (typeof(seq) = 'integer' and seq >= 1),
  at bigint not null,
  event text not null,
  outcome text not null,
  actor_type text not null,
  actor_id text,
  client_id text,
  ip text,
  user_agent text,
  detail text not null,
  prev_hash text not null,
  hash text not null,
  constraint audit_events_pk primary key (segment, seq)
)`;

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on the current schema types.
async function columnExists(db: Kysely<any>, table: string, column: string): Promise<boolean> {
  const found = await db
    .selectFrom(sql<{ name: string }>`pragma_table_info(${table})`.as('c'))
    .select('name')
    .where('name', '=', column)
    .executeTakeFirst();
  return found !== undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: see columnExists().
export async function up(db: Kysely<any>): Promise<void> {
  if (isSqlite(db)) {
    // Each statement idempotent: a second process opening a new file at the same moment may run this
    // migration again (see storage/database.ts). SQLite runs migrations outside a transaction, so the
    // rebuild takes one of its own: a crash half-way leaves the old table.
    const current = await sql<{
      sql: string;
    }>`select sql from sqlite_master where type = 'table' and name = 'audit_events'`.execute(db);
    if (!current.rows[0]?.sql.includes('audit_events_seq_check')) {
      await db.transaction().execute(async (tx) => {
        await sql.raw('drop table if exists audit_events_rebuilt').execute(tx);
        await sql.raw(SQLITE_EVENTS('audit_events_rebuilt')).execute(tx);
        // Copy every row, also those the new rule refuses: the verifier reports them.
        await sql.raw('pragma ignore_check_constraints = on').execute(tx);
        try {
          await sql.raw('insert into audit_events_rebuilt select * from audit_events').execute(tx);
        } finally {
          await sql.raw('pragma ignore_check_constraints = off').execute(tx);
        }
        await sql.raw('drop table audit_events').execute(tx);
        await sql.raw('alter table audit_events_rebuilt rename to audit_events').execute(tx);
        await sql.raw('create index if not exists audit_events_at on audit_events (at)').execute(tx);
      });
    }
    if (!(await columnExists(db, 'audit_seals', 'signature')))
      await db.schema.alterTable('audit_seals').addColumn('signature', 'text').execute();
    if (!(await columnExists(db, 'audit_segments', 'alive_until')))
      await db.schema.alterTable('audit_segments').addColumn('alive_until', 'bigint').execute();
  } else {
    // NOT VALID: enforced for every new or updated row; rows already present stay for the verifier.
    await sql
      .raw('alter table audit_events add constraint audit_events_seq_check check (seq >= 1) not valid')
      .execute(db);
    await db.schema.alterTable('audit_seals').addColumn('signature', 'text').execute();
    await db.schema.alterTable('audit_segments').addColumn('alive_until', 'bigint').execute();
  }
  // Segments written before this version: their writers are gone (an upgrade restarts every server), so
  // the first `serve` seals their heads.
  await db.updateTable('audit_segments').set({ alive_until: 0 }).where('alive_until', 'is', null).execute();
  await db.schema
    .createIndex('audit_segments_alive_until')
    .ifNotExists()
    .on('audit_segments')
    .column('alive_until')
    .execute();
  await db.schema
    .createIndex('audit_seals_segment')
    .ifNotExists()
    .on('audit_seals')
    .columns(['segment', 'segment_seq'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see columnExists().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_seals_segment').ifExists().execute();
  await db.schema.dropIndex('audit_segments_alive_until').ifExists().execute();
  await db.schema.alterTable('audit_segments').dropColumn('alive_until').execute();
  await db.schema.alterTable('audit_seals').dropColumn('signature').execute();
}
