/**
 * Passkey storage and the pages' WebAuthn challenge on both dialects, across two instances: a counter
 * moves forward once per value under parallel uses, never back; a disabled passkey takes no use; a
 * challenge is spent once; a credential id is registered once; the per-person maximum holds; reset
 * removes one person's passkeys only. And migration 0012 undoes cleanly.
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../../test/support/dialects.js';
import { openDatabase } from '../../../src/storage/database.js';
import { migrations } from '../../../src/storage/migrations/index.js';
import {
  addPasskey,
  disablePasskey,
  findUsablePasskey,
  hasPasskey,
  hasUsablePasskey,
  listPasskeys,
  MAX_PASSKEYS_PER_PERSON,
  type NewPasskey,
  recordPasskeyUse,
  removePasskeys,
} from '../../../src/users/passkeys.js';
import { issueChallenge, spendChallenge } from '../../../src/users/webauthn_challenge.js';
import { type ContractStore, openContractStore } from './store.js';

const N = 12;

function passkey(id: string, userId = 'usr_ada', counter = 0): NewPasskey {
  return {
    id,
    userId,
    publicKey: 'pQECAyYgASFY',
    counter,
    transports: ['usb', 'nfc'],
    deviceType: 'singleDevice',
    name: `key ${id}`,
    now: 1_800_000_000_000,
  };
}

describe.each(dialects)('passkey storage (%s)', (dialect) => {
  let store: ContractStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  async function open(): Promise<ContractStore> {
    store = await openContractStore(dialect);
    return store;
  }

  it('a counter moves forward: of parallel uses with one value, across two instances, exactly one wins', async () => {
    const s = await open();
    expect(await addPasskey(s.db, passkey('cred-1', 'usr_ada', 4))).toBe(true);
    const outcomes = await Promise.all(
      Array.from({ length: N }, (_, i) => recordPasskeyUse(i % 2 ? s.other : s.db, 'cred-1', 5, 1000 + i)),
    );
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    // The same value again, a lower one: refused; a higher one: taken.
    expect(await recordPasskeyUse(s.db, 'cred-1', 5, 2000)).toBe(false);
    expect(await recordPasskeyUse(s.db, 'cred-1', 3, 2000)).toBe(false);
    expect(await recordPasskeyUse(s.other, 'cred-1', 9, 3000)).toBe(true);
    const [row] = await listPasskeys(s.db, 'usr_ada');
    expect({ counter: Number(row?.counter), used: Number(row?.last_used_at) }).toEqual({
      counter: 9,
      used: 3000,
    });
  });

  it('an authenticator without a counter (always 0) is used again and again', async () => {
    const s = await open();
    await addPasskey(s.db, passkey('cred-0'));
    expect(await recordPasskeyUse(s.db, 'cred-0', 0, 1)).toBe(true);
    expect(await recordPasskeyUse(s.other, 'cred-0', 0, 2)).toBe(true);
    // Once it counts, it may not go back to 0.
    expect(await recordPasskeyUse(s.db, 'cred-0', 1, 3)).toBe(true);
    expect(await recordPasskeyUse(s.db, 'cred-0', 0, 4)).toBe(false);
  });

  it('a disabled passkey takes no use, is not usable, still counts as enrolled, and keeps its reason', async () => {
    const s = await open();
    await addPasskey(s.db, passkey('cred-d'));
    const races = await Promise.all([
      disablePasskey(s.db, 'cred-d', 'counter_regression', 10),
      disablePasskey(s.other, 'cred-d', 'counter_regression', 11),
    ]);
    expect(races.filter(Boolean)).toHaveLength(1);
    expect(await recordPasskeyUse(s.db, 'cred-d', 50, 12)).toBe(false);
    expect(await findUsablePasskey(s.db, 'usr_ada', 'cred-d')).toBeUndefined();
    expect(await hasUsablePasskey(s.db, 'usr_ada')).toBe(false);
    expect(await hasPasskey(s.db, 'usr_ada')).toBe(true);
    expect((await listPasskeys(s.db, 'usr_ada'))[0]).toMatchObject({ disabled_reason: 'counter_regression' });
  });

  it('a credential id is registered once, to one person; a person holds at most the maximum', async () => {
    const s = await open();
    expect(await addPasskey(s.db, passkey('cred-x', 'usr_ada'))).toBe(true);
    expect(await addPasskey(s.db, passkey('cred-x', 'usr_bob'))).toBe(false);
    for (let i = 1; i < MAX_PASSKEYS_PER_PERSON; i++)
      expect(await addPasskey(s.db, passkey(`k${i}`))).toBe(true);
    expect(await addPasskey(s.db, passkey('one-too-many'))).toBe(false);
    expect(await listPasskeys(s.db, 'usr_ada')).toHaveLength(MAX_PASSKEYS_PER_PERSON);
    expect(await findUsablePasskey(s.db, 'usr_bob', 'cred-x')).toBeUndefined();
    expect(await removePasskeys(s.db, 'usr_ada')).toBe(MAX_PASSKEYS_PER_PERSON);
    expect(await hasPasskey(s.db, 'usr_ada')).toBe(false);
  });

  it('parallel enrolments of one person (across two instances on PostgreSQL) never pass the maximum', async () => {
    const s = await open();
    await s.db
      .insertInto('users')
      .values({
        id: 'usr_ada',
        username: 'ada',
        password_hash: null,
        is_admin: 0,
        must_change_password: 0,
        totp_secret: null,
        created_at: 0,
        disabled_at: null,
      })
      .execute();
    for (let i = 0; i < MAX_PASSKEYS_PER_PERSON - 2; i++) await addPasskey(s.db, passkey(`pre${i}`));
    const outcomes = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        // SQLite: one instance's connection, as the server runs it (one write transaction at a time).
        (i % 2 && dialect === 'postgres' ? s.other : s.db)
          .transaction()
          .execute((tx) => addPasskey(tx, passkey(`par${i}`))),
      ),
    );
    expect(outcomes.filter(Boolean)).toHaveLength(2);
    expect(await listPasskeys(s.db, 'usr_ada')).toHaveLength(MAX_PASSKEYS_PER_PERSON);
  });

  it('a challenge is spent once across instances; a replaced, unknown or oversized one never', async () => {
    const s = await open();
    await s.db
      .insertInto('sessions')
      .values({
        id: 'ses_1',
        csrf_token: 'c',
        user_id: 'usr_ada',
        password_at: 1,
        mfa_at: null,
        mfa_method: null,
        webauthn_challenge: null,
        created_at: 1,
        expires_at: 10_000_000_000_000,
      })
      .execute();
    const first = await issueChallenge(s.db, 'ses_1');
    const second = await issueChallenge(s.other, 'ses_1');
    expect(second).not.toBe(first);
    expect(await spendChallenge(s.db, 'ses_1', first)).toBe(false);
    const outcomes = await Promise.all(
      Array.from({ length: N }, (_, i) => spendChallenge(i % 2 ? s.other : s.db, 'ses_1', second)),
    );
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(await spendChallenge(s.db, 'ses_1', second)).toBe(false);
    expect(await spendChallenge(s.db, 'ses_1', '')).toBe(false);
    expect(await spendChallenge(s.db, 'ses_1', 'x'.repeat(200))).toBe(false);
    expect(await spendChallenge(s.db, 'ses_other', second)).toBe(false);
  });
});

describe.each(dialects)('migration 0012 (%s)', (dialect) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('down removes the table and the session columns; up again restores them', async () => {
    database = await createTestDatabase(dialect);
    const opened = await openDatabase(database.url);
    try {
      const m = migrations['0012_passkeys'];
      expect(m?.down).toBeDefined();
      await m?.down?.(opened.db);
      await expect(sql`select webauthn_challenge from sessions`.execute(opened.db)).rejects.toThrow();
      await expect(sql`select id from webauthn_credentials`.execute(opened.db)).rejects.toThrow();
      await m?.up(opened.db);
      expect(
        (await sql`select count(*) as n from webauthn_credentials`.execute(opened.db)).rows,
      ).toHaveLength(1);
    } finally {
      await opened.close();
    }
  });
});
