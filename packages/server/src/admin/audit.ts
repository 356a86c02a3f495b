/** Reading the audit log for people: newest first, filterable, as plain rows. */
import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordHash, segmentGenesis } from '../audit/chain.js';
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
  /**
   * With the chain key: whether the record holds its place in its segment's chain (a sequence number
   * from 1, a segment some writer opened, its own hash, the link to the record before it). A record
   * that does not was not written by Clavis; `audit verify` names the first such break.
   */
  verified?: boolean;
}

function auditRecordView(row: AuditEventRow): AuditRecordView {
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
  key?: KeyObject,
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
  if (!key) return rows.map(auditRecordView);
  const known = new Set(
    rows.length
      ? (
          await db
            .selectFrom('audit_segments')
            .select('id')
            .where('id', 'in', [...new Set(rows.map((r) => r.segment))])
            .execute()
        ).map((s) => s.id)
      : [],
  );
  const listed = new Map(rows.map((r) => [`${r.segment}:${r.seq}`, r.hash]));
  const views: AuditRecordView[] = [];
  for (const row of rows) {
    let verified =
      Number.isSafeInteger(row.seq) &&
      row.seq >= 1 &&
      known.has(row.segment) &&
      recordHash(key, row) === row.hash;
    if (verified) {
      const prevHash =
        row.seq === 1
          ? segmentGenesis(row.segment)
          : (listed.get(`${row.segment}:${row.seq - 1}`) ??
            (
              await db
                .selectFrom('audit_events')
                .select('hash')
                .where('segment', '=', row.segment)
                .where('seq', '=', row.seq - 1)
                .executeTakeFirst()
            )?.hash);
      verified = prevHash === row.prev_hash;
    }
    views.push({ ...auditRecordView(row), verified });
  }
  return views;
}
