/** Reading the audit log for people: newest first, filterable, as plain rows. */
import type { Kysely } from 'kysely';
import type { AuditEventRow, Database } from '../storage/schema.js';

export interface AuditListOptions {
  limit?: number;
  event?: string;
  clientId?: string;
  since?: number;
}

export interface AuditRecordView {
  at: string;
  event: string;
  outcome: string;
  actor_type: string;
  actor_id: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: Record<string, unknown>;
  segment: string;
  seq: number;
  hash: string;
}

export function auditRecordView(row: AuditEventRow): AuditRecordView {
  return {
    at: new Date(row.at).toISOString(),
    event: row.event,
    outcome: row.outcome,
    actor_type: row.actor_type,
    actor_id: row.actor_id,
    client_id: row.client_id,
    ip: row.ip,
    user_agent: row.user_agent,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    segment: row.segment,
    seq: row.seq,
    hash: row.hash,
  };
}

export async function listAudit(
  db: Kysely<Database>,
  options: AuditListOptions = {},
): Promise<AuditRecordView[]> {
  let q = db.selectFrom('audit_events').selectAll();
  if (options.event) q = q.where('event', '=', options.event);
  if (options.clientId) q = q.where('client_id', '=', options.clientId);
  if (options.since !== undefined) q = q.where('at', '>=', options.since);
  const rows = await q
    .orderBy('at', 'desc')
    .orderBy('segment')
    .orderBy('seq', 'desc')
    .limit(Math.min(Math.max(options.limit ?? 100, 1), 10_000))
    .execute();
  return rows.map(auditRecordView);
}
