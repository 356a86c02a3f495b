/**
 * What `clavis serve` last ran with, kept in the database for the posture report: the report runs in
 * another process (`clavis admin posture`), which cannot see the server's environment. Each start of
 * `serve` writes its settings; the last instance to start wins, which is what instances behind one load
 * balancer share anyway.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

export type AssertionAudienceMode = 'issuer' | 'issuer-or-token-endpoint';

const ASSERTION_AUDIENCE = 'served_assertion_audience';

/** Records the settings of a starting `serve`. */
export async function recordServedSettings(
  db: Kysely<Database>,
  settings: { assertionAudience: AssertionAudienceMode },
): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key: ASSERTION_AUDIENCE, value: settings.assertionAudience })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: settings.assertionAudience }))
    .execute();
}

/** The assertion-audience mode the last `serve` ran with, or undefined if none ever recorded one. */
export async function servedAssertionAudience(
  db: Kysely<Database>,
): Promise<AssertionAudienceMode | undefined> {
  const row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', ASSERTION_AUDIENCE)
    .executeTakeFirst();
  return row?.value === 'issuer' || row?.value === 'issuer-or-token-endpoint' ? row.value : undefined;
}
