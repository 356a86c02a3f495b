/**
 * The audit anchor: an append-only file outside the database (`CLAVIS_AUDIT_ANCHOR`) to which `serve`
 * appends every seal it writes, one JSON line each, after the seal is committed. Deleting the newest
 * seals and the records they cover from the database is then detected by `audit verify --anchor FILE`,
 * and by `serve` itself on its next start.
 *
 * Lines: `{"type":"key","at":…,"public_key":X}` (the audit signing key's public half, as the `x` of an
 * Ed25519 JWK; written when the file is created and whenever the key changes) and
 * `{"type":"seal","seq":…,"at":…,"segment":…,"segment_seq":…,"hash":…,"signature":…}`.
 * Nothing secret is in it. Each instance appends to its own file (instances may share one on a local
 * file system: each line is one `write` in append mode).
 */
import type { KeyObject } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { AuditSealsTable } from '../storage/schema.js';
import { auditPublicKeyFromX } from './audit_key.js';

export class AuditAnchorError extends Error {
  override name = 'AuditAnchorError';
}

interface AnchoredSeal {
  seq: number;
  at: number;
  segment: string;
  segment_seq: number;
  hash: string;
  signature: string | null;
}

export interface AuditAnchorContents {
  file: string;
  /** Every audit public key the file names. */
  publicKeys: KeyObject[];
  seals: AnchoredSeal[];
}

type Line = { type: 'key'; public_key: string } | ({ type: 'seal' } & AnchoredSeal);

/** A line, or 'cut' for text that is not JSON at all (a line a crash cut short), else undefined. */
function parseLine(text: string): Line | 'cut' | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'cut';
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.type === 'key' && typeof v.public_key === 'string') return { type: 'key', public_key: v.public_key };
  if (
    v.type === 'seal' &&
    Number.isSafeInteger(v.seq) &&
    Number.isSafeInteger(v.at) &&
    typeof v.segment === 'string' &&
    Number.isSafeInteger(v.segment_seq) &&
    typeof v.hash === 'string' &&
    (typeof v.signature === 'string' || v.signature === null)
  ) {
    return {
      type: 'seal',
      seq: v.seq as number,
      at: v.at as number,
      segment: v.segment,
      segment_seq: v.segment_seq as number,
      hash: v.hash,
      signature: v.signature as string | null,
    };
  }
  return undefined;
}

/** Reads a whole anchor file. A line cut short (a crash while appending) is skipped. */
export async function readAnchor(file: string): Promise<AuditAnchorContents> {
  const publicKeys: KeyObject[] = [];
  const seals: AnchoredSeal[] = [];
  let stream: ReturnType<typeof createReadStream>;
  try {
    stream = createReadStream(file, { encoding: 'utf8' });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
  } catch (cause) {
    throw new AuditAnchorError(`cannot read the audit anchor ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
  let n = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    n++;
    if (text === '') continue;
    const line = parseLine(text);
    if (line === 'cut') continue;
    if (!line) throw new AuditAnchorError(`audit anchor ${file}, line ${n}: not an anchor line`);
    if (line.type === 'key') {
      try {
        publicKeys.push(auditPublicKeyFromX(line.public_key));
      } catch {
        throw new AuditAnchorError(`audit anchor ${file}, line ${n}: not an Ed25519 public key`);
      }
    } else {
      const { type: _, ...seal } = line;
      seals.push(seal);
    }
  }
  return { file, publicKeys, seals };
}

const TAIL_BYTES = 64 * 1024;

/** The anchor file `serve` appends to. */
export class AuditAnchor {
  readonly file: string;
  readonly #fd: number;
  /** The newest seal the file holds (when it was opened, then the last one appended). */
  lastSeal: AnchoredSeal | undefined;

  private constructor(file: string, fd: number, lastSeal: AnchoredSeal | undefined) {
    this.file = file;
    this.#fd = fd;
    this.lastSeal = lastSeal;
  }

  /**
   * Opens (creating it 0600) the anchor file for appending, and records the audit public key in it unless
   * the newest key line already names it.
   */
  static open(file: string, publicX: string, now: number): AuditAnchor {
    let fd: number;
    try {
      fd = openSync(file, 'a+', 0o600);
    } catch (cause) {
      throw new AuditAnchorError(`cannot open the audit anchor ${file}: ${(cause as Error).message}`, {
        cause,
      });
    }
    try {
      const { size, mode } = fstatSync(fd);
      if ((mode & 0o022) !== 0) {
        throw new AuditAnchorError(`audit anchor ${file} must not be writable by others (chmod 600)`);
      }
      const start = Math.max(0, size - TAIL_BYTES);
      const buffer = Buffer.alloc(size - start);
      readSync(fd, buffer, 0, buffer.length, start);
      const lines = buffer.toString('utf8').split('\n');
      if (start > 0) lines.shift(); // Possibly the end of a line that began before the tail.
      let lastSeal: AnchoredSeal | undefined;
      let lastKey: string | undefined;
      for (const text of lines) {
        const parsed = text ? parseLine(text) : undefined;
        const line = parsed === 'cut' ? undefined : parsed;
        if (line?.type === 'key') lastKey = line.public_key;
        else if (line?.type === 'seal') {
          const { type: _, ...seal } = line;
          lastSeal = seal;
        }
      }
      const anchor = new AuditAnchor(file, fd, lastSeal);
      // A line cut short by a crash: start on a fresh line.
      if (size > 0 && !buffer.toString('utf8').endsWith('\n')) anchor.#write('');
      if (lastKey !== publicX) anchor.#write(JSON.stringify({ type: 'key', at: now, public_key: publicX }));
      return anchor;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  #write(line: string): void {
    writeSync(this.#fd, `${line}\n`);
    fsyncSync(this.#fd);
  }

  /** Appends a seal committed to the database, and returns it as anchored. */
  append(seal: AuditSealsTable): AnchoredSeal {
    const anchored: AnchoredSeal = {
      seq: seal.seq,
      at: seal.at,
      segment: seal.segment,
      segment_seq: seal.segment_seq,
      hash: seal.hash,
      signature: seal.signature,
    };
    this.#write(JSON.stringify({ type: 'seal', ...anchored }));
    this.lastSeal = anchored;
    return anchored;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
