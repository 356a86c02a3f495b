/**
 * The one pending WebAuthn challenge of a verification-page session. A page that starts a ceremony
 * stores a fresh challenge (replacing any earlier one); the answer spends it in one statement, so a
 * challenge answers at most one ceremony (a replayed assertion finds none).
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { rawExec } from '../storage/raw.js';
import type { Database } from '../storage/schema.js';

type Db = Kysely<Database>;

/** Stores and returns a fresh 32-byte challenge (base64url) for the session. */
export async function issueChallenge(db: Db, sessionId: string): Promise<string> {
  const challenge = randomBytes(32).toString('base64url');
  await rawExec(db, 'update sessions set webauthn_challenge = ? where id = ?', [challenge, sessionId]);
  return challenge;
}

/**
 * Spends the session's challenge if it is `challenge`. Under concurrent calls exactly one caller gets
 * true; a challenge already spent, replaced or never issued gives false.
 */
export async function spendChallenge(db: Db, sessionId: string, challenge: string): Promise<boolean> {
  if (challenge.length === 0 || challenge.length > 128) return false;
  const changed = await rawExec(
    db,
    'update sessions set webauthn_challenge = null where id = ? and webauthn_challenge = ?',
    [sessionId, challenge],
  );
  return changed > 0;
}
