/**
 * Verifies the whole audit log: every segment's chain (contiguous sequence numbers from 1, each record
 * linked to the previous one, each hash recomputed) and the seal chain (each seal linked to the previous
 * one, each naming a record that exists with exactly that hash). Every row of `audit_events` is read, in
 * key order with no lower bound, so a row outside the chain (a `seq` below 1 or not an integer, an
 * unknown segment) is found, and the table's row count must match what was verified.
 *
 * Records after a segment's last seal are reported as unsealed: they chain correctly, but truncating
 * them could not be detected. A live writer seals every 2 s and `serve` seals the head of a segment
 * whose writer is gone, so records left unsealed for longer than `maxUnsealedAgeMs` fail verification.
 *
 * With anchor files (`audit verify --anchor FILE`), every seal the anchor holds must be in the database
 * unchanged, and every signed seal must carry a signature by an audit key the anchor names.
 */
import type { KeyObject } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { AuditEventsTable, Database } from '../storage/schema.js';
import type { AuditAnchorContents } from './anchor.js';
import { pruneBoundary } from './archive.js';
import { recordHash, sealHash, sealSignatureValid, segmentGenesis } from './chain.js';

export interface AuditBreak {
  /** `segment:seq` of the first broken record, or `seal:seq`. */
  where: string;
  reason: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  records: number;
  segments: number;
  seals: number;
  unsealed: number;
  /** Unsealed records older than the allowed age: their writer stopped without sealing them. */
  stale_unsealed: number;
  /** With anchor files: how many anchored seals were found in the database unchanged. */
  anchored?: number;
  broken?: AuditBreak;
}

export interface AuditVerifyOptions {
  /** Anchor files to check the database against (see anchor.ts). */
  anchors?: readonly AuditAnchorContents[];
  /** The current time (ms), for the age of unsealed records. */
  now?: number;
  /** How long a record may stay unsealed (ms). */
  maxUnsealedAgeMs?: number;
}

/**
 * A live writer seals every 2 s; a dead writer's lease lapses after 10 s and the next seal tick of any
 * `serve` seals its head. 30 s leaves room for a loaded machine and clock skew between instances.
 */
export const DEFAULT_MAX_UNSEALED_AGE_MS = 30_000;

const PAGE = 5000;

const validSeq = (seq: unknown): seq is number => Number.isSafeInteger(seq) && (seq as number) >= 1;

export async function verifyAuditLog(
  db: Kysely<Database>,
  key: KeyObject,
  options: AuditVerifyOptions = {},
): Promise<AuditVerifyResult> {
  const now = options.now ?? Date.now();
  const maxAge = options.maxUnsealedAgeMs ?? DEFAULT_MAX_UNSEALED_AGE_MS;
  const anchors = options.anchors;
  const publicKeys = anchors?.flatMap((a) => a.publicKeys) ?? [];
  // Counted first: every row present now belongs to a segment listed below (a segment is stored with
  // its first record), and writers only append, so everything counted here must be verified below.
  const total = Number(
    (
      await db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
  const segments = await db.selectFrom('audit_segments').select('id').execute();
  // Where each chain starts after `audit prune`: the first remaining record links to the last pruned one.
  const pruned = await pruneBoundary(db);
  let records = 0;
  let sealCount = 0;
  let unsealed = 0;
  let stale = 0;
  let firstStale: string | undefined;
  let anchored = 0;
  const result = (broken?: AuditBreak): AuditVerifyResult => ({
    ok: !broken,
    records,
    segments: segments.length,
    seals: sealCount,
    unsealed,
    stale_unsealed: stale,
    ...(anchors ? { anchored } : {}),
    ...(broken ? { broken } : {}),
  });

  // The seal chain first: it is short, and tells which records must hold which hashes.
  const sealed = new Map<string, Map<number, { hash: string; seal: number }>>();
  const sealsBySeq = anchors ? new Map<number, { hash: string; signature: string | null }>() : undefined;
  let prevSeal = pruned.seals.hash;
  let expectedSeal = pruned.seals.to + 1;
  let firstPage = true;
  for (;;) {
    let q = db.selectFrom('audit_seals').selectAll().orderBy('seq').limit(PAGE);
    // No lower bound on the first page: a seal numbered below the first is out of the chain, and reported.
    if (!firstPage) q = q.where('seq', '>=', expectedSeal);
    firstPage = false;
    const seals = await q.execute();
    for (const seal of seals) {
      const where = `seal:${seal.seq}`;
      if (!validSeq(seal.seq)) return result({ where, reason: 'not a valid sequence number' });
      if (seal.seq !== expectedSeal) return result({ where: `seal:${expectedSeal}`, reason: 'seal missing' });
      if (seal.prev_hash !== prevSeal) return result({ where, reason: 'does not link to the previous seal' });
      if (sealHash(key, seal) !== seal.hash)
        return result({ where, reason: 'content does not match its hash' });
      if (anchors && seal.signature !== null && !sealSignatureValid(publicKeys, seal, seal.signature))
        return result({ where, reason: 'signature does not verify with the audit key of the anchor' });
      sealsBySeq?.set(seal.seq, { hash: seal.hash, signature: seal.signature });
      // A seal of a position already pruned (a head sealed again, signed): it must name the boundary.
      const segmentPruned = pruned.segments[seal.segment];
      if (segmentPruned && seal.segment_seq <= segmentPruned.to) {
        if (seal.segment_seq === segmentPruned.to && seal.segment_hash !== segmentPruned.hash)
          return result({ where, reason: 'differs from the pruned record it seals' });
        prevSeal = seal.hash;
        expectedSeal++;
        sealCount++;
        continue;
      }
      let positions = sealed.get(seal.segment);
      if (!positions) {
        positions = new Map();
        sealed.set(seal.segment, positions);
      }
      positions.set(seal.segment_seq, { hash: seal.segment_hash, seal: seal.seq });
      prevSeal = seal.hash;
      expectedSeal++;
      sealCount++;
    }
    if (seals.length < PAGE) break;
  }

  // Every seal an anchor holds must still be in the database, unchanged.
  for (const anchor of anchors ?? []) {
    for (const a of anchor.seals) {
      // Seals pruned from the database are checked in their archive (audit verify --archive).
      if (a.seq <= pruned.seals.to) continue;
      const found = sealsBySeq?.get(a.seq);
      if (!found)
        return result({
          where: `seal:${a.seq}`,
          reason: `in the anchor ${anchor.file} but missing from the database`,
        });
      if (found.hash !== a.hash || found.signature !== a.signature)
        return result({ where: `seal:${a.seq}`, reason: `differs from the anchor ${anchor.file}` });
      anchored++;
    }
  }

  const knownSegments = new Set(segments.map((s) => s.id));
  for (const segment of sealed.keys()) {
    if (!knownSegments.has(segment))
      return result({ where: `${segment}:1`, reason: 'sealed segment is missing' });
  }

  // Every row, in key order: the rows of a segment are adjacent, in `seq` order.
  let current:
    | { id: string; positions: Map<number, { hash: string; seal: number }>; prev: string; expected: number }
    | undefined;
  const seen = new Set<string>();
  /** Ends the current segment: its sealed positions must all have been reached. */
  const finish = (): AuditBreak | undefined => {
    if (!current) return undefined;
    const { id, positions, expected } = current;
    let sealedUpTo = pruned.segments[id]?.to ?? 0;
    for (const seq of positions.keys()) sealedUpTo = Math.max(sealedUpTo, seq);
    const last = expected - 1;
    if (last < sealedUpTo)
      return { where: `${id}:${last + 1}`, reason: `record missing (sealed up to ${sealedUpTo})` };
    unsealed += last - sealedUpTo;
    current = undefined;
    return undefined;
  };
  /** Unsealed records of the segment being read, checked as they pass. */
  const checkAge = (row: AuditEventsTable, sealedUpTo: number) => {
    if (row.seq > sealedUpTo && row.at < now - maxAge) {
      stale++;
      firstStale ??= `${row.segment}:${row.seq}`;
    }
  };
  const sealedUpToOf = new Map<string, number>();
  for (const [segment, positions] of sealed) {
    let top = 0;
    for (const seq of positions.keys()) top = Math.max(top, seq);
    sealedUpToOf.set(segment, top);
  }
  let after: { segment: string; seq: number } | undefined;
  for (;;) {
    let q = db.selectFrom('audit_events').selectAll().orderBy('segment').orderBy('seq').limit(PAGE);
    if (after) q = q.where(sql<boolean>`(segment, seq) > (${after.segment}, ${after.seq})`);
    const rows = await q.execute();
    for (const row of rows) {
      if (current?.id !== row.segment) {
        const broken = finish();
        if (broken) return result(broken);
        if (!knownSegments.has(row.segment))
          return result({ where: `${row.segment}:${row.seq}`, reason: 'record of an unknown segment' });
        if (seen.has(row.segment))
          return result({ where: `${row.segment}:${row.seq}`, reason: 'record out of order' });
        seen.add(row.segment);
        const start = pruned.segments[row.segment];
        current = {
          id: row.segment,
          positions: sealed.get(row.segment) ?? new Map(),
          prev: start?.hash ?? segmentGenesis(row.segment),
          expected: (start?.to ?? 0) + 1,
        };
      }
      const where = `${row.segment}:${row.seq}`;
      if (!validSeq(row.seq)) return result({ where, reason: 'not a valid sequence number' });
      if (row.seq !== current.expected)
        return result({ where: `${row.segment}:${current.expected}`, reason: 'record missing' });
      if (row.prev_hash !== current.prev)
        return result({ where, reason: 'does not link to the previous record' });
      if (recordHash(key, row) !== row.hash)
        return result({ where, reason: 'content does not match its hash' });
      const seal = current.positions.get(row.seq);
      if (seal && seal.hash !== row.hash) return result({ where, reason: `differs from seal ${seal.seal}` });
      checkAge(row, sealedUpToOf.get(row.segment) ?? 0);
      current.prev = row.hash;
      current.expected++;
      records++;
    }
    const last = rows.at(-1);
    if (rows.length < PAGE || !last) break;
    after = { segment: last.segment, seq: last.seq };
  }
  const broken = finish();
  if (broken) return result(broken);
  for (const segment of sealed.keys()) {
    if (!seen.has(segment)) {
      const top = sealedUpToOf.get(segment) ?? 0;
      return result({ where: `${segment}:1`, reason: `record missing (sealed up to ${top})` });
    }
  }
  if (records < total)
    return result({ where: 'audit_events', reason: `${total - records} of ${total} rows were not verified` });
  if (stale > 0) {
    return result({
      where: firstStale ?? 'audit_events',
      reason: `${stale} records unsealed for longer than ${Math.round(maxAge / 1000)}s: their writer stopped without sealing them (start serve to seal them)`,
    });
  }
  return result();
}
