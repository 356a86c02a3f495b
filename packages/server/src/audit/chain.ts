/**
 * The hash chain of audit records and seals: pure functions shared by the writer and the verifier.
 *
 * Links are HMAC-SHA-256 under a key derived from the KEK, so someone who can write to the database
 * but does not hold the KEK cannot forge a record, re-hash an edited chain or append a plausible tail.
 * Seals written by `serve` are also signed with its Ed25519 audit key, which admin commands do not hold:
 * a KEK holder can recompute every HMAC, but not a signature, and verifying needs only the public half.
 */
import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import { HmacSha256 } from '../crypto/hmac.js';

interface ChainedFields {
  segment: string;
  seq: number;
  at: number;
  event: string;
  outcome: string;
  actor_type: string;
  actor_id: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: string;
  prev_hash: string;
}

export interface SealFields {
  seq: number;
  at: number;
  segment: string;
  segment_seq: number;
  segment_hash: string;
  prev_hash: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
// One precomputed HMAC per chain key (see crypto/hmac.ts: a record is hashed on every audited request).
const macs = new WeakMap<KeyObject, HmacSha256>();
const hmac = (key: KeyObject, text: string): string => {
  let mac = macs.get(key);
  if (!mac) {
    mac = new HmacSha256(key.export());
    macs.set(key, mac);
  }
  return mac.digest(text).toString('hex');
};

/** What the first record of a segment links to. */
export function segmentGenesis(segment: string): string {
  return sha256(`clavis-audit-segment:${segment}`);
}

export const SEAL_GENESIS = sha256('clavis-audit-seals');

export function recordHash(key: KeyObject, r: ChainedFields): string {
  return hmac(
    key,
    JSON.stringify([
      r.segment,
      r.seq,
      r.at,
      r.event,
      r.outcome,
      r.actor_type,
      r.actor_id,
      r.client_id,
      r.ip,
      r.user_agent,
      r.detail,
      r.prev_hash,
    ]),
  );
}

export function sealHash(key: KeyObject, s: SealFields): string {
  return hmac(key, JSON.stringify([s.seq, s.at, s.segment, s.segment_seq, s.segment_hash, s.prev_hash]));
}

/** What a seal's Ed25519 signature covers: every field of the seal, its hash included. */
function sealMessage(s: SealFields & { hash: string }): Buffer {
  return Buffer.from(
    `clavis-audit-seal:${JSON.stringify([s.seq, s.at, s.segment, s.segment_seq, s.segment_hash, s.prev_hash, s.hash])}`,
  );
}

/** The seal's signature by the audit signing key (base64url). */
export function signSeal(privateKey: KeyObject, s: SealFields & { hash: string }): string {
  return sign(null, sealMessage(s), privateKey).toString('base64url');
}

/** Whether `signature` is a signature of the seal by one of `publicKeys`. */
export function sealSignatureValid(
  publicKeys: readonly KeyObject[],
  s: SealFields & { hash: string },
  signature: string,
): boolean {
  const message = sealMessage(s);
  const bytes = Buffer.from(signature, 'base64url');
  return publicKeys.some((key) => verify(null, message, key, bytes));
}
