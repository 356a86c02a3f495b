/**
 * Bounding the audit log: sealed records archived to files, verified there, then pruned from the database.
 *
 * An archive is a directory: `records.jsonl` (every column of each record, in segment and sequence order),
 * `seals.jsonl` (every column of each seal, in order) and `manifest.json` (what it covers, where each chain
 * starts and ends, and the SHA-256 of both files). It holds the seals 1..S — or from the end of the
 * previous prune — where S is the newest seal written before `--before`, and of each segment exactly the
 * records those seals cover. It verifies without the database: with the chain key (from the KEK) every
 * record's and seal's HMAC and every link, and with an anchor file every signed seal's signature and
 * every anchored seal.
 *
 * Pruning deletes exactly what a verified archive holds, after checking that the database holds the same
 * records, and records the boundary in the chain itself: an `audit.prune` record whose detail carries, for
 * the seal chain and for each pruned segment, the last pruned position and its hash. `audit verify` starts
 * each chain there: the first remaining record links to the last pruned one. The boundary is cumulative
 * (each prune record carries every earlier one's), so pruning a later prune record loses nothing.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { WRAPPED_KEYS_SETTING } from '../crypto/stable_keys.js';
import type { AuditEventsTable, AuditSealsTable, Database } from '../storage/schema.js';
import type { AuditAnchorContents } from './anchor.js';
import type { AuditLog } from './audit_log.js';
import { recordHash, SEAL_GENESIS, sealHash, sealSignatureValid, segmentGenesis } from './chain.js';
import type { ActorType } from './events.js';

export const ARCHIVE_FORMAT = 'clavis-audit-archive/1';

/** A chain's stretch: positions `from`..`to`, the hash before the first and the hash of the last. */
export interface ChainSpan {
  from: number;
  to: number;
  prev_hash: string;
  last_hash: string;
}

export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  created_at: string;
  before: string;
  seals: ChainSpan;
  segments: Record<string, ChainSpan>;
  records: number;
  files: { 'records.jsonl': string; 'seals.jsonl': string };
  /**
   * What gives the chain key from the KEK without the database: the KEK's check value and the wrapped
   * stable keys (both as the database holds them; neither opens without the KEK).
   */
  keys: { kek_check: string | null; wrapped: string | null };
}

/** Where the pruned part of each chain ends: the last pruned position and its hash. */
export interface PruneBoundary {
  seals: { to: number; hash: string };
  segments: Record<string, { to: number; hash: string }>;
}

export class AuditArchiveError extends Error {}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** The boundary of everything pruned so far: the union of every `audit.prune` record left. */
export async function pruneBoundary(db: Kysely<Database>): Promise<PruneBoundary> {
  const rows = await db
    .selectFrom('audit_events')
    .select('detail')
    .where('event', '=', 'audit.prune')
    .execute();
  const boundary: PruneBoundary = { seals: { to: 0, hash: SEAL_GENESIS }, segments: {} };
  for (const row of rows) {
    let detail: Partial<{ boundary: PruneBoundary }>;
    try {
      detail = JSON.parse(row.detail) as Partial<{ boundary: PruneBoundary }>;
    } catch {
      continue; // A record that is not ours: `audit verify` reports its hash.
    }
    const b = detail.boundary;
    if (!b || typeof b.seals?.to !== 'number') continue;
    if (b.seals.to > boundary.seals.to) boundary.seals = { to: b.seals.to, hash: String(b.seals.hash) };
    for (const [segment, at] of Object.entries(b.segments ?? {})) {
      const known = boundary.segments[segment];
      if (typeof at?.to === 'number' && (!known || at.to > known.to))
        boundary.segments[segment] = { to: at.to, hash: String(at.hash) };
    }
  }
  return boundary;
}

/**
 * Writes the archive of everything sealed before `before` (ms) and not yet pruned into `dir` (created
 * 0700; it must not exist or be empty). Returns undefined when there is nothing to archive.
 */
export async function archiveAudit(
  db: Kysely<Database>,
  options: { before: number; dir: string; now: number },
): Promise<ArchiveManifest | undefined> {
  const boundary = await pruneBoundary(db);
  // The newest seal always stays: the next seal links to it.
  const newest = await db
    .selectFrom('audit_seals')
    .select('seq')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  const last = await db
    .selectFrom('audit_seals')
    .select('seq')
    .where('at', '<', options.before)
    .where('seq', '>', boundary.seals.to)
    .where('seq', '<', newest?.seq ?? 0)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!last) return undefined;
  const seals = await db
    .selectFrom('audit_seals')
    .selectAll()
    .where('seq', '>', boundary.seals.to)
    .where('seq', '<=', last.seq)
    .orderBy('seq')
    .execute();
  if (seals.length !== last.seq - boundary.seals.to)
    throw new AuditArchiveError('the seal chain has a gap: run clavis admin audit verify');
  // Of each segment, the records these seals cover and no earlier prune did.
  const covered = new Map<string, number>();
  for (const seal of seals) {
    const pruned = boundary.segments[seal.segment]?.to ?? 0;
    if (seal.segment_seq > Math.max(pruned, covered.get(seal.segment) ?? 0))
      covered.set(seal.segment, seal.segment_seq);
  }
  const segments: Record<string, ChainSpan> = {};
  const recordLines: string[] = [];
  for (const [segment, to] of [...covered].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const pruned = boundary.segments[segment];
    const from = (pruned?.to ?? 0) + 1;
    const rows = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('segment', '=', segment)
      .where('seq', '>=', from)
      .where('seq', '<=', to)
      .orderBy('seq')
      .execute();
    if (rows.length !== to - from + 1)
      throw new AuditArchiveError(`segment ${segment} is missing records: run clavis admin audit verify`);
    for (const row of rows) recordLines.push(JSON.stringify(row));
    segments[segment] = {
      from,
      to,
      prev_hash: pruned?.hash ?? segmentGenesis(segment),
      last_hash: (rows.at(-1) as AuditEventsTable).hash,
    };
  }
  const setting = async (key: string) =>
    (await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())?.value ??
    null;
  const records = `${recordLines.join('\n')}${recordLines.length ? '\n' : ''}`;
  const sealText = `${seals.map((s) => JSON.stringify(s)).join('\n')}\n`;
  const manifest: ArchiveManifest = {
    format: ARCHIVE_FORMAT,
    created_at: new Date(options.now).toISOString(),
    before: new Date(options.before).toISOString(),
    seals: {
      from: boundary.seals.to + 1,
      to: last.seq,
      prev_hash: boundary.seals.hash,
      last_hash: (seals.at(-1) as AuditSealsTable).hash,
    },
    segments,
    records: recordLines.length,
    files: { 'records.jsonl': sha256(records), 'seals.jsonl': sha256(sealText) },
    keys: { kek_check: await setting('kek_check'), wrapped: await setting(WRAPPED_KEYS_SETTING) },
  };
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  if (readdirSync(options.dir).length > 0)
    throw new AuditArchiveError(`${options.dir} is not empty: give a new directory for each archive`);
  writeFileSync(join(options.dir, 'records.jsonl'), records, { mode: 0o600, flag: 'wx' });
  writeFileSync(join(options.dir, 'seals.jsonl'), sealText, { mode: 0o600, flag: 'wx' });
  writeFileSync(join(options.dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  return manifest;
}

export interface ArchiveVerifyResult {
  ok: boolean;
  records: number;
  seals: number;
  /** With anchor files: how many anchored seals the archive holds unchanged. */
  anchored?: number;
  broken?: { where: string; reason: string };
  manifest?: ArchiveManifest;
}

/** An archive's manifest, as written (not yet verified). */
export function readArchiveManifest(dir: string): ArchiveManifest {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ArchiveManifest;
  } catch (err) {
    throw new AuditArchiveError(`${dir} is not a readable audit archive: ${(err as Error).message}`);
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/** Verifies an archive on its own: files, every hash and link, and (with anchors) every signature. */
export function verifyAuditArchive(
  dir: string,
  key: KeyObject,
  options: { anchors?: readonly AuditAnchorContents[] } = {},
): ArchiveVerifyResult {
  let records = 0;
  let sealCount = 0;
  let anchored = 0;
  const fail = (where: string, reason: string, manifest?: ArchiveManifest): ArchiveVerifyResult => ({
    ok: false,
    records,
    seals: sealCount,
    broken: { where, reason },
    ...(manifest ? { manifest } : {}),
  });
  let manifest: ArchiveManifest;
  let recordText: string;
  let sealText: string;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ArchiveManifest;
    recordText = readFileSync(join(dir, 'records.jsonl'), 'utf8');
    sealText = readFileSync(join(dir, 'seals.jsonl'), 'utf8');
  } catch (err) {
    return fail(dir, `not a readable archive: ${(err as Error).message}`);
  }
  if (manifest.format !== ARCHIVE_FORMAT) return fail('manifest.json', 'not an archive of this format');
  if (sha256(recordText) !== manifest.files['records.jsonl'])
    return fail('records.jsonl', 'does not match the digest in manifest.json', manifest);
  if (sha256(sealText) !== manifest.files['seals.jsonl'])
    return fail('seals.jsonl', 'does not match the digest in manifest.json', manifest);

  // Seals: contiguous, linked, each its own hash; signed ones signed by an anchor's key.
  const publicKeys = options.anchors?.flatMap((a) => a.publicKeys) ?? [];
  const sealsBySeq = new Map<number, AuditSealsTable>();
  const span = manifest.seals;
  if (span.from === 1 && span.prev_hash !== SEAL_GENESIS)
    return fail('seal:1', 'does not start the seal chain', manifest);
  let prev = span.prev_hash;
  let expected = span.from;
  for (const line of lines(sealText)) {
    let seal: AuditSealsTable;
    try {
      seal = JSON.parse(line) as AuditSealsTable;
    } catch {
      return fail(`seal:${expected}`, 'not a JSON line', manifest);
    }
    const where = `seal:${seal.seq}`;
    if (seal.seq !== expected) return fail(`seal:${expected}`, 'seal missing', manifest);
    if (seal.prev_hash !== prev) return fail(where, 'does not link to the previous seal', manifest);
    if (sealHash(key, seal) !== seal.hash) return fail(where, 'content does not match its hash', manifest);
    if (options.anchors && seal.signature !== null && !sealSignatureValid(publicKeys, seal, seal.signature))
      return fail(where, 'signature does not verify with the audit key of the anchor', manifest);
    sealsBySeq.set(seal.seq, seal);
    prev = seal.hash;
    expected++;
    sealCount++;
  }
  if (expected - 1 !== span.to || prev !== span.last_hash)
    return fail(`seal:${expected}`, 'the seals end before the manifest says', manifest);

  // Records: per segment, contiguous from the manifest's start, linked, each its own hash.
  const segmentAt = new Map<string, { prev: string; expected: number }>();
  for (const line of lines(recordText)) {
    let row: AuditEventsTable;
    try {
      row = JSON.parse(line) as AuditEventsTable;
    } catch {
      return fail(`record ${records + 1}`, 'not a JSON line', manifest);
    }
    const where = `${row.segment}:${row.seq}`;
    const segment = manifest.segments[row.segment];
    if (!segment) return fail(where, 'record of a segment the manifest does not list', manifest);
    let at = segmentAt.get(row.segment);
    if (!at) {
      if (segment.from === 1 && segment.prev_hash !== segmentGenesis(row.segment))
        return fail(where, 'does not start its segment', manifest);
      at = { prev: segment.prev_hash, expected: segment.from };
      segmentAt.set(row.segment, at);
    }
    if (row.seq !== at.expected) return fail(`${row.segment}:${at.expected}`, 'record missing', manifest);
    if (row.prev_hash !== at.prev) return fail(where, 'does not link to the previous record', manifest);
    if (recordHash(key, row) !== row.hash) return fail(where, 'content does not match its hash', manifest);
    at.prev = row.hash;
    at.expected++;
    records++;
  }
  for (const [id, segment] of Object.entries(manifest.segments)) {
    const at = segmentAt.get(id);
    if (!at || at.expected - 1 !== segment.to || at.prev !== segment.last_hash)
      return fail(`${id}:${(at?.expected ?? segment.from) - 0}`, 'record missing', manifest);
  }
  if (records !== manifest.records)
    return fail('records.jsonl', 'record count differs from manifest', manifest);
  // Every seal's position inside the archive holds exactly the sealed record.
  const hashes = new Map<string, string>();
  for (const line of lines(recordText)) {
    const row = JSON.parse(line) as AuditEventsTable;
    hashes.set(`${row.segment}:${row.seq}`, row.hash);
  }
  for (const seal of sealsBySeq.values()) {
    const segment = manifest.segments[seal.segment];
    if (!segment || seal.segment_seq < segment.from) continue; // covered by an earlier archive
    if (hashes.get(`${seal.segment}:${seal.segment_seq}`) !== seal.segment_hash)
      return fail(`${seal.segment}:${seal.segment_seq}`, `differs from seal ${seal.seq}`, manifest);
  }
  // Every anchored seal in the archive's range is there unchanged.
  for (const anchor of options.anchors ?? []) {
    for (const a of anchor.seals) {
      if (a.seq < span.from || a.seq > span.to) continue;
      const found = sealsBySeq.get(a.seq);
      if (!found || found.hash !== a.hash || found.signature !== a.signature)
        return fail(`seal:${a.seq}`, `differs from the anchor ${anchor.file}`, manifest);
      anchored++;
    }
  }
  return {
    ok: true,
    records,
    seals: sealCount,
    ...(options.anchors ? { anchored } : {}),
    manifest,
  };
}

/**
 * Deletes from the database exactly what the archive in `dir` holds — once it verifies, continues the
 * last prune, and matches the database record for record — and records the new boundary (`audit.prune`)
 * in the same transaction. Returns how many records and seals were deleted.
 */
export async function pruneAudit(
  db: Kysely<Database>,
  audit: AuditLog,
  key: KeyObject,
  options: {
    dir: string;
    actor: { type: ActorType; id: string | null };
    anchors?: readonly AuditAnchorContents[];
  },
): Promise<{ records: number; seals: number }> {
  const verified = verifyAuditArchive(options.dir, key, options.anchors ? { anchors: options.anchors } : {});
  if (!verified.ok || !verified.manifest) {
    const b = verified.broken;
    throw new AuditArchiveError(
      `the archive does not verify (${b?.where}: ${b?.reason}); nothing was pruned`,
    );
  }
  const manifest = verified.manifest;
  const boundary = await pruneBoundary(db);
  if (manifest.seals.from !== boundary.seals.to + 1 || manifest.seals.prev_hash !== boundary.seals.hash)
    throw new AuditArchiveError(
      'the archive does not continue where the last prune ended; nothing was pruned',
    );
  for (const [segment, span] of Object.entries(manifest.segments)) {
    const pruned = boundary.segments[segment];
    if (span.from !== (pruned?.to ?? 0) + 1)
      throw new AuditArchiveError(`the archive does not continue segment ${segment}; nothing was pruned`);
  }
  // The database must hold exactly the archived records and seals.
  const sealRows = await db
    .selectFrom('audit_seals')
    .select(['seq', 'hash'])
    .where('seq', '>=', manifest.seals.from)
    .where('seq', '<=', manifest.seals.to)
    .orderBy('seq')
    .execute();
  const archivedSeals = lines(readFileSync(join(options.dir, 'seals.jsonl'), 'utf8')).map(
    (l) => JSON.parse(l) as AuditSealsTable,
  );
  if (
    sealRows.length !== archivedSeals.length ||
    sealRows.some((row, i) => row.hash !== archivedSeals[i]?.hash)
  )
    throw new AuditArchiveError('the database seals differ from the archive; nothing was pruned');
  const archivedRecords = new Map<string, string>();
  for (const l of lines(readFileSync(join(options.dir, 'records.jsonl'), 'utf8'))) {
    const row = JSON.parse(l) as AuditEventsTable;
    archivedRecords.set(`${row.segment}:${row.seq}`, row.hash);
  }
  for (const [segment, span] of Object.entries(manifest.segments)) {
    const rows = await db
      .selectFrom('audit_events')
      .select(['seq', 'hash'])
      .where('segment', '=', segment)
      .where('seq', '>=', span.from)
      .where('seq', '<=', span.to)
      .execute();
    if (
      rows.length !== span.to - span.from + 1 ||
      rows.some((r) => archivedRecords.get(`${segment}:${r.seq}`) !== r.hash)
    )
      throw new AuditArchiveError(
        `the database records of ${segment} differ from the archive; nothing was pruned`,
      );
  }
  const next: PruneBoundary = {
    seals: { to: manifest.seals.to, hash: manifest.seals.last_hash },
    segments: { ...boundary.segments },
  };
  for (const [segment, span] of Object.entries(manifest.segments))
    next.segments[segment] = { to: span.to, hash: span.last_hash };
  const digest = sha256(readFileSync(join(options.dir, 'manifest.json')));
  return audit.transact(
    async (tx) => {
      let deleted = 0;
      for (const [segment, span] of Object.entries(manifest.segments)) {
        const result = await tx
          .deleteFrom('audit_events')
          .where('segment', '=', segment)
          .where('seq', '>=', span.from)
          .where('seq', '<=', span.to)
          .executeTakeFirst();
        deleted += Number(result.numDeletedRows);
      }
      const seals = await tx
        .deleteFrom('audit_seals')
        .where('seq', '>=', manifest.seals.from)
        .where('seq', '<=', manifest.seals.to)
        .executeTakeFirst();
      return { records: deleted, seals: Number(seals.numDeletedRows) };
    },
    (result) => ({
      event: 'audit.prune',
      actor: options.actor,
      detail: {
        records: result.records,
        seals: result.seals,
        archive_manifest_sha256: digest,
        boundary: next,
      },
    }),
  );
}
