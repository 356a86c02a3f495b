/**
 * Reading the audit log for people and for export: filtered by time, event, actor, outcome and client,
 * newest or oldest first, in pages that resume from a cursor, with each acting user's name beside its id.
 */
import type { KeyObject } from 'node:crypto';
import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import { recordHash, segmentGenesis } from '../audit/chain.js';
import type { AuditEventRow, Database } from '../storage/schema.js';

/** The most records one call returns; a caller wanting more pages on with the cursor. */
export const AUDIT_PAGE_MAX = 10_000;

/** Where a listing stopped: the last record it returned (opaque to callers; see `auditCursor`). */
export interface AuditPosition {
  at: number;
  segment: string;
  seq: number;
}

export interface AuditListOptions {
  /** Records per call, 1..AUDIT_PAGE_MAX (default 100). */
  limit?: number;
  event?: string;
  clientId?: string;
  /** Milliseconds; records at or after. */
  since?: number;
  /** Milliseconds; records before. */
  until?: number;
  /** An actor id (`usr_…`, a client id, `os:…`) or a person's username. */
  actor?: string;
  outcome?: 'success' | 'failure';
  /** `newest` first (default) or `oldest` first. */
  order?: 'newest' | 'oldest';
  /** Resume after this record, in the same order. */
  after?: AuditPosition;
}

export interface AuditRecordView {
  at: string;
  event: string;
  outcome: string;
  actor_type: string;
  actor_id: string | null;
  /** The username, when the actor is a person (null otherwise, or for a user since deleted). */
  actor_name: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: Record<string, unknown>;
  segment: string;
  seq: number;
  prev_hash: string;
  hash: string;
  /**
   * With the chain key: whether the record holds its place in its segment's chain (a sequence number
   * from 1, a segment some writer opened, its own hash, the link to the record before it). A record
   * that does not was not written by Clavis; `audit verify` names the first such break.
   */
  verified?: boolean;
}

export interface AuditPage {
  records: AuditRecordView[];
  /** Present when more records may follow: pass it as `after` to continue. */
  next?: AuditPosition;
}

type Row = AuditEventRow & { actor_name: string | null };

function auditRecordView(row: Row): AuditRecordView {
  return {
    at: new Date(Number(row.at)).toISOString(),
    event: row.event,
    outcome: row.outcome,
    actor_type: row.actor_type,
    actor_id: row.actor_id,
    actor_name: row.actor_name,
    client_id: row.client_id,
    ip: row.ip,
    user_agent: row.user_agent,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    segment: row.segment,
    seq: Number(row.seq),
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}

/** A position as one opaque token (for a command line), and back; a malformed token is undefined. */
export const auditCursor = {
  encode(p: AuditPosition): string {
    return Buffer.from(JSON.stringify([p.at, p.segment, p.seq])).toString('base64url');
  },
  decode(text: string): AuditPosition | undefined {
    if (text.length > 512) return undefined;
    try {
      const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
      if (!Array.isArray(value) || value.length !== 3) return undefined;
      const [at, segment, seq] = value as unknown[];
      if (!Number.isSafeInteger(at) || typeof segment !== 'string' || !Number.isSafeInteger(seq))
        return undefined;
      return { at: at as number, segment, seq: seq as number };
    } catch {
      return undefined;
    }
  },
};

/** Records strictly after `p` in the listing order (newest: at desc, segment asc, seq desc). */
function afterPosition(p: AuditPosition, order: 'newest' | 'oldest') {
  return (eb: ExpressionBuilder<Database, 'audit_events'>) => {
    const atPast = order === 'newest' ? '<' : '>';
    const seqPast = order === 'newest' ? '<' : '>';
    return eb.or([
      eb('audit_events.at', atPast, p.at),
      eb.and([eb('audit_events.at', '=', p.at), eb('audit_events.segment', '>', p.segment)]),
      eb.and([
        eb('audit_events.at', '=', p.at),
        eb('audit_events.segment', '=', p.segment),
        eb('audit_events.seq', seqPast, p.seq),
      ]),
    ]);
  };
}

/** One page of records; `next` is set when the page is full (more may follow). */
export async function listAuditPage(
  db: Kysely<Database>,
  options: AuditListOptions = {},
  key?: KeyObject,
): Promise<AuditPage> {
  const order = options.order ?? 'newest';
  const limit = Math.min(Math.max(options.limit ?? 100, 1), AUDIT_PAGE_MAX);
  let q = db
    .selectFrom('audit_events')
    .leftJoin('users', (join) =>
      join.onRef('users.id', '=', 'audit_events.actor_id').on('audit_events.actor_type', '=', 'user'),
    )
    .selectAll('audit_events')
    .select('users.username as actor_name');
  if (options.event) q = q.where('audit_events.event', '=', options.event);
  if (options.clientId) q = q.where('audit_events.client_id', '=', options.clientId);
  if (options.outcome) q = q.where('audit_events.outcome', '=', options.outcome);
  if (options.since !== undefined) q = q.where('audit_events.at', '>=', options.since);
  if (options.until !== undefined) q = q.where('audit_events.at', '<', options.until);
  if (options.actor) {
    const actor = options.actor;
    q = q.where((eb) =>
      eb.or([
        eb('audit_events.actor_id', '=', actor),
        eb.and([
          eb('audit_events.actor_type', '=', 'user'),
          eb(sql`lower(users.username)`, '=', actor.toLowerCase()),
        ]),
      ]),
    );
  }
  if (options.after) q = q.where(afterPosition(options.after, order));
  const dir = order === 'newest' ? 'desc' : 'asc';
  const rows = (await q
    .orderBy('audit_events.at', dir)
    .orderBy('audit_events.segment', 'asc')
    .orderBy('audit_events.seq', dir)
    .limit(limit)
    .execute()) as Row[];
  const last = rows.at(-1);
  const next =
    rows.length === limit && last
      ? { at: Number(last.at), segment: last.segment, seq: Number(last.seq) }
      : undefined;
  const records = key ? await withVerified(db, rows, key) : rows.map(auditRecordView);
  return { records, ...(next ? { next } : {}) };
}

/** Up to `limit` (at most AUDIT_PAGE_MAX) records, newest first unless told otherwise. */
export async function listAudit(
  db: Kysely<Database>,
  options: AuditListOptions = {},
  key?: KeyObject,
): Promise<AuditRecordView[]> {
  return (await listAuditPage(db, options, key)).records;
}

async function withVerified(db: Kysely<Database>, rows: Row[], key: KeyObject): Promise<AuditRecordView[]> {
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
  const listed = new Map(rows.map((r) => [`${r.segment}:${Number(r.seq)}`, r.hash]));
  const views: AuditRecordView[] = [];
  for (const row of rows) {
    const seq = Number(row.seq);
    let verified =
      Number.isSafeInteger(seq) && seq >= 1 && known.has(row.segment) && recordHash(key, row) === row.hash;
    if (verified) {
      const prevHash =
        seq === 1
          ? segmentGenesis(row.segment)
          : (listed.get(`${row.segment}:${seq - 1}`) ??
            (
              await db
                .selectFrom('audit_events')
                .select('hash')
                .where('segment', '=', row.segment)
                .where('seq', '=', seq - 1)
                .executeTakeFirst()
            )?.hash);
      verified = prevHash === row.prev_hash;
    }
    views.push({ ...auditRecordView(row), verified });
  }
  return views;
}
