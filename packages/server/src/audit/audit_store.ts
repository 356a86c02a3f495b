/**
 * Writing a batch of audit records: on SQLite one prepared single-row insert per record (synchronous,
 * reused statement); on PostgreSQL one `insert … select from unnest(…)` per batch, one round trip
 * whatever the batch size.
 */
import type { AuditEventsTable, AuditSegmentsTable } from '../storage/schema.js';
import type { SqlDialect, SqlStep, StepResult, StoreOp } from '../storage/store_op.js';

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

/**
 * Appends a batch's records, and first the writer's segment when the batch carries its first record.
 * Nothing when there are no records.
 */
export function appendAuditRows(
  segment: AuditSegmentsTable | undefined,
  rows: readonly AuditEventsTable[],
): StoreOp<void> {
  return { steps: (dialect) => appendSteps(dialect, segment, rows) };
}

function* appendSteps(
  dialect: SqlDialect,
  segment: AuditSegmentsTable | undefined,
  rows: readonly AuditEventsTable[],
): Generator<SqlStep, void, StepResult> {
  if (rows.length === 0) return;
  if (segment) {
    yield {
      sql: 'insert into audit_segments (id, writer, started_at, alive_until) values (?, ?, ?, ?)',
      params: [segment.id, segment.writer, segment.started_at, segment.alive_until],
    };
  }
  if (dialect === 'postgres') {
    yield { sql: PG_INSERT, params: COLUMNS.map((c) => rows.map((r) => r[c])) };
    return;
  }
  for (const row of rows) yield { sql: SQLITE_INSERT, params: COLUMNS.map((c) => row[c]) };
}
