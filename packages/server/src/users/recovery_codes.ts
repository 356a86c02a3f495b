/**
 * One-time recovery codes: ten per enrolment, shown once, stored only as keyed hashes (the server's
 * secret hasher), each usable once.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SecretHasher } from '../crypto/secrets.js';
import { rawExec } from '../storage/raw.js';
import type { Database } from '../storage/schema.js';

type Db = Kysely<Database>;

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'; // 31 characters, no 0/o, 1/l/i
const COUNT = 10;

/** `xxxxx-xxxxx`: 10 characters, ~49.5 bits. */
export function generateRecoveryCode(): string {
  let out = '';
  while (out.length < 10) {
    for (const b of randomBytes(16)) {
      if (b < 248 && out.length < 10) out += ALPHABET[b % 31]; // 248 = 8 × 31: no modulo bias
    }
  }
  return `${out.slice(0, 5)}-${out.slice(5)}`;
}

/** What a person typed, in the stored form (lower case, no dash or spaces); null when it cannot be one. */
export function normaliseRecoveryCode(input: string): string | null {
  if (input.length > 32) return null;
  const folded = input.toLowerCase().replace(/[\s-]/g, '');
  if (folded.length !== 10) return null;
  for (const ch of folded) if (!ALPHABET.includes(ch)) return null;
  return `${folded.slice(0, 5)}-${folded.slice(5)}`;
}

/** Replaces the user's recovery codes with ten new ones; returns them (the only time they are seen). */
export async function replaceRecoveryCodes(db: Db, hasher: SecretHasher, userId: string): Promise<string[]> {
  const codes = Array.from({ length: COUNT }, generateRecoveryCode);
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  await db
    .insertInto('recovery_codes')
    .values(codes.map((code) => ({ hash: hasher.hash(code), user_id: userId, used_at: null })))
    .execute();
  return codes;
}

/**
 * Spends one recovery code. Under concurrent calls with the same code exactly one caller gets true;
 * a used, unknown or other user's code gives false.
 */
export async function useRecoveryCode(
  db: Db,
  hasher: SecretHasher,
  userId: string,
  code: string,
  now: number,
): Promise<boolean> {
  // Under the current hashing-key version first, then each older live one; a code spent under an older
  // one is re-keyed in the same statement.
  const hash = hasher.hash(code);
  for (const stored of [hash, ...hasher.olderHashes(code)]) {
    const changed = await rawExec(
      db,
      'update recovery_codes set used_at = ?, hash = ? where hash = ? and user_id = ? and used_at is null',
      [now, hash, stored, userId],
    );
    if (changed > 0) return true;
  }
  return false;
}
