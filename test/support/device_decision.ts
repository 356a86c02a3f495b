/**
 * A person's decision on a device code, made straight in storage as the verification pages make it (the
 * code is claimed by a browser session, which then decides), for tests that do not drive the pages.
 * Works on any handle to the database: an in-process server's, a listening server's, or one a test
 * opened on the database of a `clavis serve` process.
 */
import type { Kysely } from 'kysely';
import { Kek } from '../../packages/server/src/crypto/kek.js';
import { randomId } from '../../packages/server/src/crypto/secrets.js';
import {
  type AuthenticationContext,
  decideDeviceCode,
  findDeviceCodeByUserCode,
} from '../../packages/server/src/device/device_store.js';
import { normaliseUserCode } from '../../packages/server/src/device/user_code.js';
import { userCodesAtRest } from '../../packages/server/src/device/user_code_at_rest.js';
import type { Database } from '../../packages/server/src/storage/schema.js';

/** The audit-subject key of a server started with `CLAVIS_KEK=kek` (a database never rotated). */
export function subjectKeyOf(kek: string): Buffer {
  return Kek.fromString(kek).derive('audit-subjects');
}

/** The stored form of a user code as a person types it, under the server's audit-subject key. */
export function storedUserCode(subjectKey: Buffer, typed: string): string {
  const code = normaliseUserCode(typed);
  if (code === null) throw new Error(`not a user code: ${typed}`);
  return userCodesAtRest(subjectKey).stored(code);
}

export async function decideInStorage(
  db: Kysely<Database>,
  decision: {
    userCode: string;
    /** The server's audit-subject key (`services.stableKeys.auditSubjects`): user codes are stored under it. */
    subjectKey: Buffer;
    userId: string;
    approve: boolean;
    now: number;
    /** How the person signed in, as the consent page records it; default: a password, just now. */
    authentication?: AuthenticationContext;
  },
): Promise<boolean> {
  const row = await findDeviceCodeByUserCode(db, storedUserCode(decision.subjectKey, decision.userCode));
  if (!row) throw new Error(`no device code row for ${decision.userCode}`);
  const sessionId = row.claimed_by_session ?? randomId('ses_', 12);
  if (!row.claimed_by_session) {
    await db
      .updateTable('device_codes')
      .set({ claimed_by_session: sessionId })
      .where('id', '=', row.id)
      .execute();
  }
  return decideDeviceCode(db, {
    id: row.id,
    sessionId,
    userId: decision.userId,
    approve: decision.approve,
    now: decision.now,
    ...(decision.approve
      ? { authentication: decision.authentication ?? { time: decision.now, methods: ['pwd'] } }
      : {}),
  });
}
