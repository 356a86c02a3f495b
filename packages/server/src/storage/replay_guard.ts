/**
 * Single-use markers (assertion `jti`s, later DPoP proofs and TOTP steps), shared by every instance.
 */
import type { Kysely } from 'kysely';
import type { ApartBatch, BatchableOp } from './apart_batch.js';
import type { Database } from './schema.js';
import { type Statement, type StepResult, statement } from './store_op.js';

/**
 * Claims `key` until `expiresAt`. Under concurrent calls with the same key — on one instance or many —
 * exactly one caller gets `true`. A key whose previous claim has expired is treated as still claimed
 * until it is purged; callers reject expired material before claiming anyway. Claims that arrive
 * together on PostgreSQL are one statement (`CLAIMS`).
 */
export function claimOnce(key: string, expiresAt: number): Statement<boolean> & BatchableOp<Claim, boolean> {
  return Object.assign(statement(CLAIM_SQL, [key, expiresAt], changedAny), {
    apart: { batch: CLAIMS, value: { key, expiresAt } },
  });
}

const CLAIM_SQL = 'insert into replay_guard (key, expires_at) values (?, ?) on conflict (key) do nothing';

const changedAny = ({ changes }: StepResult): boolean => changes > 0;

interface Claim {
  key: string;
  expiresAt: number;
}

/**
 * Many claims in one insert (PostgreSQL), each answered as it would have been alone: a key's first
 * claim in arrival order wins if nobody holds the key, every later one is refused. Keys go in sorted
 * order, so two instances inserting overlapping keys wait for each other in the same order.
 */
const CLAIMS: ApartBatch<Claim, boolean> = {
  statement(values) {
    const firsts = new Map<string, number>();
    for (const { key, expiresAt } of values) if (!firsts.has(key)) firsts.set(key, expiresAt);
    const keys = [...firsts.keys()].sort();
    return {
      sql: `insert into replay_guard (key, expires_at)
        select * from unnest(?::text[], ?::bigint[])
        on conflict (key) do nothing
        returning key`,
      params: [keys, keys.map((key) => firsts.get(key))],
    };
  },
  results({ rows }, values) {
    const won = new Set((rows as Array<{ key: string }>).map((r) => r.key));
    return values.map(({ key }) => won.delete(key));
  },
};

/** Deletes expired markers. Returns how many. */
export async function purgeReplayGuard(db: Kysely<Database>, now: number): Promise<number> {
  const result = await db.deleteFrom('replay_guard').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
