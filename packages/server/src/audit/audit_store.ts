/**
 * Writing a batch of audit records: on SQLite one prepared single-row insert per record (synchronous,
 * reused statement); on PostgreSQL one `insert … select from unnest(…)` per batch, one round trip
 * whatever the batch size.
 */
import type { Kysely } from 'kysely';
import type { SyncConnection } from '../storage/dialects/node_sqlite.js';
import { isSqlite, rawExec } from '../storage/raw.js';
import type { AuditEventsTable, AuditSegmentsTable, Database } from '../storage/schema.js';

const COLUMNS = [
  'segment',
  'seq',
  'at',
  'event',
  'outcome',
  'actor_type',
  'actor_id',
  'client_id',
  'ip',
  'user_agent',
  'detail',
  'prev_hash',
  'hash',
] as const satisfies ReadonlyArray<keyof AuditEventsTable>;

const PG_TYPES: Record<(typeof COLUMNS)[number], string> = {
  segment: 'text',
  seq: 'bigint',
  at: 'bigint',
  event: 'text',
  outcome: 'text',
  actor_type: 'text',
  actor_id: 'text',
  client_id: 'text',
  ip: 'text',
  user_agent: 'text',
  detail: 'text',
  prev_hash: 'text',
  hash: 'text',
};

const SQLITE_INSERT = `insert into audit_events (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`;
const PG_INSERT = `insert into audit_events (${COLUMNS.join(', ')}) select * from unnest(${COLUMNS.map(
  (c) => `?::${PG_TYPES[c]}[]`,
).join(', ')})`;

export async function insertAuditRows(
  db: Kysely<Database>,
  rows: readonly AuditEventsTable[],
): Promise<void> {
  if (rows.length === 0) return;
  if (isSqlite(db)) {
    for (const row of rows)
      await rawExec(
        db,
        SQLITE_INSERT,
        COLUMNS.map((c) => row[c]),
      );
    return;
  }
  await rawExec(
    db,
    PG_INSERT,
    COLUMNS.map((c) => rows.map((r) => r[c])),
  );
}

/**
 * SQLite, inside a transaction the caller holds: the segment (with its first record) and the records,
 * synchronously.
 */
export function insertAuditRowsSync(
  connection: SyncConnection,
  segment: AuditSegmentsTable | undefined,
  rows: readonly AuditEventsTable[],
): void {
  if (rows.length === 0) return;
  if (segment) {
    connection.runSync(
      'insert into audit_segments (id, writer, started_at, alive_until) values (?, ?, ?, ?)',
      [segment.id, segment.writer, segment.started_at, segment.alive_until],
    );
  }
  for (const row of rows)
    connection.runSync(
      SQLITE_INSERT,
      COLUMNS.map((c) => row[c]),
    );
}
