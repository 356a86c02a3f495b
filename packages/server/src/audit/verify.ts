/**
 * Verifies the whole audit log: every segment's chain (contiguous sequence numbers, each record linked
 * to the previous one, each hash recomputed) and the seal chain (each seal linked to the previous one,
 * each naming a record that exists with exactly that hash). Records after a segment's last seal are
 * reported as unsealed: they chain correctly, but truncating them could not be detected.
 */
import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import { recordHash, SEAL_GENESIS, sealHash, segmentGenesis } from './chain.js';

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
  broken?: AuditBreak;
}

const PAGE = 5000;

export async function verifyAuditLog(db: Kysely<Database>, key: KeyObject): Promise<AuditVerifyResult> {
  const segments = await db
    .selectFrom('audit_segments')
    .select('id')
    .orderBy('started_at')
    .orderBy('id')
    .execute();
  let records = 0;
  let sealCount = 0;
  let unsealed = 0;
  const result = (broken?: AuditBreak): AuditVerifyResult => ({
    ok: !broken,
    records,
    segments: segments.length,
    seals: sealCount,
    unsealed,
    ...(broken ? { broken } : {}),
  });

  // The seal chain first: it is short, and tells which records must hold which hashes.
  const sealed = new Map<string, Map<number, { hash: string; seal: number }>>();
  let prevSeal = SEAL_GENESIS;
  let expectedSeal = 1;
  for (;;) {
    const seals = await db
      .selectFrom('audit_seals')
      .selectAll()
      .where('seq', '>=', expectedSeal)
      .orderBy('seq')
      .limit(PAGE)
      .execute();
    for (const seal of seals) {
      const where = `seal:${seal.seq}`;
      if (seal.seq !== expectedSeal) return result({ where: `seal:${expectedSeal}`, reason: 'seal missing' });
      if (seal.prev_hash !== prevSeal) return result({ where, reason: 'does not link to the previous seal' });
      if (sealHash(key, seal) !== seal.hash)
        return result({ where, reason: 'content does not match its hash' });
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

  const knownSegments = new Set(segments.map((s) => s.id));
  for (const segment of sealed.keys()) {
    if (!knownSegments.has(segment))
      return result({ where: `${segment}:1`, reason: 'sealed segment is missing' });
  }
  const orphan = await db
    .selectFrom('audit_events')
    .select(['segment', 'seq'])
    .where('segment', 'not in', segments.length ? [...knownSegments] : [''])
    .limit(1)
    .executeTakeFirst();
  if (orphan)
    return result({ where: `${orphan.segment}:${orphan.seq}`, reason: 'record of an unknown segment' });

  for (const { id } of segments) {
    const positions = sealed.get(id) ?? new Map<number, { hash: string; seal: number }>();
    let sealedUpTo = 0;
    for (const seq of positions.keys()) sealedUpTo = Math.max(sealedUpTo, seq);
    let prev = segmentGenesis(id);
    let expected = 1;
    for (;;) {
      const rows = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('segment', '=', id)
        .where('seq', '>=', expected)
        .orderBy('seq')
        .limit(PAGE)
        .execute();
      for (const row of rows) {
        const where = `${id}:${row.seq}`;
        if (row.seq !== expected) return result({ where: `${id}:${expected}`, reason: 'record missing' });
        if (row.prev_hash !== prev) return result({ where, reason: 'does not link to the previous record' });
        if (recordHash(key, row) !== row.hash)
          return result({ where, reason: 'content does not match its hash' });
        const seal = positions.get(row.seq);
        if (seal && seal.hash !== row.hash)
          return result({ where, reason: `differs from seal ${seal.seal}` });
        prev = row.hash;
        expected++;
        records++;
      }
      if (rows.length < PAGE) break;
    }
    const last = expected - 1;
    if (last < sealedUpTo) {
      return result({ where: `${id}:${last + 1}`, reason: `record missing (sealed up to ${sealedUpTo})` });
    }
    unsealed += last - sealedUpTo;
  }
  return result();
}
