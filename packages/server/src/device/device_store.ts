/**
 * Domain-shaped storage for device authorization requests. Every transition is one conditional
 * statement: under concurrent calls on the same row — on one instance or many — exactly one caller
 * gets it.
 */
import type { Kysely } from 'kysely';
import type { ApartBatch, BatchableOp } from '../storage/apart_batch.js';
import { rawExec, rawRows } from '../storage/raw.js';
import type { Database, DeviceCodeRow } from '../storage/schema.js';
import {
  nothing,
  type SqlDialect,
  type SqlStep,
  type Statement,
  type StepResult,
  type StoreOp,
  statement,
} from '../storage/store_op.js';

type Db = Kysely<Database>;

const DEVICE_CODE_COLUMNS = [
  'id',
  'device_code_hash',
  'user_code',
  'client_id',
  'scopes',
  'status',
  'interval',
  'last_polled_at',
  'created_at',
  'expires_at',
  'requester_ip',
  'requester_user_agent',
  'claimed_by_session',
  'user_id',
  'decided_at',
  'consumed_at',
  'family_id',
  'auth_time',
  'amr',
] as const satisfies ReadonlyArray<keyof DeviceCodeRow>;

const INSERT_DEVICE_CODE_SQL = `insert into device_codes (${DEVICE_CODE_COLUMNS.map((c) => `"${c}"`).join(', ')})
  values (${DEVICE_CODE_COLUMNS.map(() => '?').join(', ')})`;

const PG_TYPES: Record<(typeof DEVICE_CODE_COLUMNS)[number], string> = {
  id: 'text',
  device_code_hash: 'text',
  user_code: 'text',
  client_id: 'text',
  scopes: 'text',
  status: 'text',
  interval: 'integer',
  last_polled_at: 'bigint',
  created_at: 'bigint',
  expires_at: 'bigint',
  requester_ip: 'text',
  requester_user_agent: 'text',
  claimed_by_session: 'text',
  user_id: 'text',
  decided_at: 'bigint',
  consumed_at: 'bigint',
  family_id: 'text',
  auth_time: 'bigint',
  amr: 'text',
};

/** Several rows in one statement whatever their number (one prepared text): `unnest` of one array per column. */
const PG_INSERT_DEVICE_CODES = `insert into device_codes (${DEVICE_CODE_COLUMNS.map((c) => `"${c}"`).join(', ')})
  select * from unnest(${DEVICE_CODE_COLUMNS.map((c) => `?::${PG_TYPES[c]}[]`).join(', ')})`;

/**
 * Stores several new device authorization requests at once (the group commit's batch): on PostgreSQL
 * one statement for all, on SQLite one prepared insert per row. An id or user code already taken fails
 * the whole op.
 */
export function insertDeviceCodes(rows: readonly DeviceCodeRow[]): StoreOp<void> {
  return { steps: (dialect) => insertDeviceCodeSteps(dialect, rows) };
}

function* insertDeviceCodeSteps(
  dialect: SqlDialect,
  rows: readonly DeviceCodeRow[],
): Generator<SqlStep, void, StepResult> {
  if (dialect === 'postgres') {
    if (rows.length > 0) yield insertDeviceCodesStep(rows);
    return;
  }
  for (const row of rows) yield insertDeviceCode(row);
}

/** The PostgreSQL statement that inserts `rows` (at least one). */
export function insertDeviceCodesStep(rows: readonly DeviceCodeRow[]): SqlStep {
  return { sql: PG_INSERT_DEVICE_CODES, params: DEVICE_CODE_COLUMNS.map((c) => rows.map((row) => row[c])) };
}

/** Stores a new device authorization request. An id or user code already taken fails it. */
export function insertDeviceCode(row: DeviceCodeRow): Statement<void> {
  return statement(
    INSERT_DEVICE_CODE_SQL,
    DEVICE_CODE_COLUMNS.map((c) => row[c]),
    nothing,
  );
}

export async function findDeviceCodeByUserCode(db: Db, userCode: string): Promise<DeviceCodeRow | undefined> {
  return db.selectFrom('device_codes').selectAll().where('user_code', '=', userCode).executeTakeFirst();
}

export async function findDeviceCode(db: Db, id: string): Promise<DeviceCodeRow | undefined> {
  const rows = await rawRows<DeviceCodeRow>(db, 'select * from device_codes where id = ?', [id]);
  return rows[0];
}

/**
 * Replaces the stored hash of a request's device code found under an older hashing-key version, if it
 * is still the stored one (of concurrent uses, one re-keys). Returns whether this call changed it.
 */
export async function rekeyDeviceCode(db: Db, id: string, staleHash: string, hash: string): Promise<boolean> {
  return (
    (await rawExec(db, 'update device_codes set device_code_hash = ? where id = ? and device_code_hash = ?', [
      hash,
      id,
      staleHash,
    ])) > 0
  );
}

const POLL_ON_TIME_SQL = `update device_codes set last_polled_at = ?
  where id = ? and (last_polled_at is null or last_polled_at + "interval" * 1000 <= ?)`;
const POLL_TOO_FAST_SQL =
  'update device_codes set last_polled_at = ?, "interval" = "interval" + 5 where id = ?';

/**
 * Records a poll. If the previous poll was less than `interval` seconds ago the request is polling too
 * fast: the interval grows by 5 s (RFC 8628 §3.5) and this returns `slow_down`. Taking the "on time"
 * slot is one conditional statement, so of parallel polls exactly one is on time: the others (whose
 * condition no longer holds once it commits) are too fast. Polls that arrive together on PostgreSQL
 * are recorded by one statement (`POLLS`).
 */
export function recordPoll(id: string, now: number): BatchableOp<Poll, PollResult> {
  return { steps: () => pollSteps(id, now), apart: { batch: POLLS, value: { id, now } } };
}

type PollResult = 'ok' | 'slow_down';

interface Poll {
  id: string;
  now: number;
}

function* pollSteps(id: string, now: number): Generator<SqlStep, PollResult, StepResult> {
  const onTime = yield { sql: POLL_ON_TIME_SQL, params: [now, id, now] };
  if (onTime.changes > 0) return 'ok';
  yield { sql: POLL_TOO_FAST_SQL, params: [now, id] };
  return 'slow_down';
}

/**
 * Many polls in one statement (PostgreSQL), with the outcome each would have had on its own, in
 * arrival order: per code, the first poll is on time if the code's last poll is at least its interval
 * before it, and every other poll of that code is too fast and adds 5 s. The codes' rows are locked in
 * id order before they are read, so batches of several instances wait for each other (never
 * deadlock), and each reads the row as the one before it left it. A code that is gone is too fast, as
 * `pollSteps` answers for it.
 */
const POLLS: ApartBatch<Poll, PollResult> = {
  statement(values) {
    const codes = new Map<string, { n: number; firstAt: number; lastAt: number }>();
    for (const { id, now } of values) {
      const code = codes.get(id);
      if (!code) codes.set(id, { n: 1, firstAt: now, lastAt: now });
      else {
        code.n += 1;
        code.lastAt = Math.max(code.lastAt, now);
      }
    }
    const entries = [...codes];
    return {
      sql: POLLS_SQL,
      params: [
        entries.map(([id]) => id),
        entries.map(([, c]) => c.n),
        entries.map(([, c]) => c.firstAt),
        entries.map(([, c]) => c.lastAt),
      ],
    };
  },
  results({ rows }, values) {
    const onTime = new Map((rows as Array<{ id: string; on_time: boolean }>).map((r) => [r.id, r.on_time]));
    const answered = new Set<string>();
    return values.map(({ id }) => {
      const first = !answered.has(id);
      answered.add(id);
      return first && onTime.get(id) === true ? 'ok' : 'slow_down';
    });
  },
};

const POLLS_SQL = `with polled as (
    select * from unnest(?::text[], ?::integer[], ?::bigint[], ?::bigint[]) as p(id, n, first_at, last_at)
  ), locked as (
    select d.id, p.n, p.last_at,
      (d.last_polled_at is null or d.last_polled_at + d."interval" * 1000 <= p.first_at) as on_time
    from device_codes d join polled p on p.id = d.id
    order by d.id
    for update of d
  )
  update device_codes d
    set last_polled_at = l.last_at,
      "interval" = d."interval" + 5 * (l.n - case when l.on_time then 1 else 0 end)
    from locked l
    where d.id = l.id
    returning d.id, l.on_time`;

/**
 * The browser session that enters a code first claims it (RFC 8628 §5.5): returns true for that session
 * (and again for it later), false for any other session, or when the code is not pending or has expired.
 */
export async function claimDeviceCode(db: Db, id: string, sessionId: string, now: number): Promise<boolean> {
  await rawExec(
    db,
    `update device_codes set claimed_by_session = ?
      where id = ? and status = 'pending' and expires_at > ? and claimed_by_session is null`,
    [sessionId, id, now],
  );
  const rows = await rawRows<{ claimed_by_session: string | null; status: string; expires_at: number }>(
    db,
    'select claimed_by_session, status, expires_at from device_codes where id = ?',
    [id],
  );
  const row = rows[0];
  return (
    !!row && row.claimed_by_session === sessionId && row.status === 'pending' && Number(row.expires_at) > now
  );
}

/** How a person authenticated: when they signed in (ms since the epoch, if known) and with what. */
export interface AuthenticationContext {
  time: number | null;
  /** RFC 8176 authentication method references: `pwd`; after a second factor `otp` or `hwk`/`swk` and `user`, and `mfa`. */
  methods: readonly string[];
}

/**
 * Approves or denies a pending, unexpired code claimed by `sessionId`. Returns false when it was not
 * (another decision came first, another session claimed it, or it expired): a decision is final.
 */
export async function decideDeviceCode(
  db: Db,
  decision: {
    id: string;
    sessionId: string;
    userId: string;
    approve: boolean;
    now: number;
    /** The scopes the approval grants (the person's share of those asked for); default: as asked. */
    scopes?: readonly string[];
    /** How the approving person authenticated: when they signed in (ms) and the RFC 8176 methods. */
    authentication?: AuthenticationContext;
  },
): Promise<boolean> {
  const changed = await rawExec(
    db,
    `update device_codes set status = ?, user_id = ?, decided_at = ?, scopes = coalesce(?, scopes),
        auth_time = ?, amr = ?
      where id = ? and status = 'pending' and claimed_by_session = ? and expires_at > ?`,
    [
      decision.approve ? 'approved' : 'denied',
      decision.userId,
      decision.now,
      decision.scopes === undefined ? null : JSON.stringify(decision.scopes),
      decision.authentication?.time ?? null,
      decision.authentication ? JSON.stringify(decision.authentication.methods) : null,
      decision.id,
      decision.sessionId,
      decision.now,
    ],
  );
  return changed > 0;
}

/** Redeems an approved code: exactly one caller gets true, whatever the concurrency. */
export async function consumeDeviceCode(db: Db, id: string, familyId: string, now: number): Promise<boolean> {
  const changed = await rawExec(
    db,
    `update device_codes set status = 'consumed', consumed_at = ?, family_id = ?
      where id = ? and status = 'approved'`,
    [now, familyId, id],
  );
  return changed > 0;
}

/** Deletes codes that expired more than `graceMs` ago (kept a while so late polls get expired_token). */
export async function purgeDeviceCodes(db: Db, now: number, graceMs = 3_600_000): Promise<number> {
  return rawExec(db, 'delete from device_codes where expires_at < ?', [now - graceMs]);
}
