/**
 * a revocation (logout, `users disable`) that races a refresh or a device-code redemption leaves
 * no live token behind. Two instances share one database; the revocation is made to land at a chosen
 * point of the other request — between its first reads and its transaction, or inside its transaction
 * (PostgreSQL, where transactions run side by side) — by running it from the request's own call to
 * `audit.transact`. No sleeps: inside a transaction, the test waits until PostgreSQL reports the
 * revocation blocked on a lock (or finished).
 */
import { adminUsers } from '@clavis/server';
import type { Transaction } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, PG_BASE_URL } from '../../../../test/support/dialects.js';
import { type Caller, introspect, revoke } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import type { Database } from '../../src/storage/schema.js';
import { approve, familyOf, obtainTokens, poll, refresh, requestDeviceCode } from './support.js';

type Work = (tx: Transaction<Database>) => Promise<unknown>;

/**
 * Runs `around` in place of the next `audit.transact` of `server`: it gets the real work and the real
 * `transact`, and decides what to run before the transaction or inside it.
 */
function interceptNextTransaction(
  server: TestServer,
  around: (work: Work, transact: (work: Work) => Promise<unknown>) => Promise<unknown>,
): void {
  const audit = server.services.audit;
  const original = audit.transact.bind(audit);
  audit.transact = ((work: Work, entry: Parameters<typeof original>[1]) => {
    audit.transact = original;
    return around(work, (w) => original(w, entry as Parameters<typeof original>[1]));
  }) as typeof audit.transact;
}

function disable(server: TestServer, userId: string) {
  return adminUsers.disableUser(
    {
      db: server.services.db,
      audit: server.services.audit,
      clock: server.clock.read,
      totpKey: server.services.totpKey,
    },
    userId,
    { type: 'admin', id: 'test' },
  );
}

describe.each(dialects)('R-05: revocation racing token minting (%s)', (dialect) => {
  let first: TestServer;
  let second: TestServer;
  let caller: Caller;

  beforeAll(async () => {
    first = await createTestServer(dialect);
    second = await createTestServer(dialect, { database: first.database, clock: first.clock });
    // Confidential, so it may also introspect the tokens it holds.
    const { client, secret } = await first.createClient({
      kind: 'confidential',
      grants: ['device_code', 'refresh_token'],
      scopes: ['read'],
    });
    caller = { id: client.id, secret: secret ?? '' };
  });
  afterAll(async () => {
    await second.close();
    await first.close();
  });

  /** Whether an access token is still accepted: introspection by the client it was issued to. */
  async function active(server: TestServer, token: string): Promise<boolean> {
    const res = await introspect(server, caller, token);
    expect(res.statusCode).toBe(200);
    return (res.json() as { active: boolean }).active;
  }

  /** The family's access tokens not on the revocation list. */
  async function liveFamilyTokens(server: TestServer, familyId: string): Promise<number> {
    const rows = await server.services.db
      .selectFrom('family_access_tokens as a')
      .innerJoin('token_families as f', 'f.id', 'a.family_id')
      .leftJoin('revoked_tokens as r', 'r.jti', 'a.jti')
      .select('a.jti')
      .where('a.family_id', '=', familyId)
      .where('r.jti', 'is', null)
      .execute();
    return rows.length;
  }

  it('R-05: logout committed between the refresh’s read and its transaction → invalid_grant, no live token', async () => {
    const userId = (await createUser(first)).id;
    const auth = await requestDeviceCode(first, caller, 'read');
    expect(await approve(first, auth.user_code, userId)).toBe(true);
    const tokens = (await poll(first, caller, auth.device_code)).json() as { refresh_token: string };
    const familyId = await familyOf(first, auth.user_code);

    interceptNextTransaction(first, async (work, transact) => {
      expect((await revoke(second, caller, tokens.refresh_token)).statusCode).toBe(200);
      return transact(work);
    });
    const res = await refresh(first, caller, tokens.refresh_token);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await liveFamilyTokens(first, familyId)).toBe(0);
  });

  it('R-05: users disable committed between the refresh’s read and its transaction → invalid_grant, no live token', async () => {
    const userId = (await createUser(first)).id;
    const auth = await requestDeviceCode(first, caller, 'read');
    expect(await approve(first, auth.user_code, userId)).toBe(true);
    const tokens = (await poll(first, caller, auth.device_code)).json() as { refresh_token: string };
    const familyId = await familyOf(first, auth.user_code);

    interceptNextTransaction(first, async (work, transact) => {
      expect((await disable(second, userId)).revokedFamilies).toBe(1);
      return transact(work);
    });
    const res = await refresh(first, caller, tokens.refresh_token);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await liveFamilyTokens(first, familyId)).toBe(0);
  });

  it('in depth: an access token minted into a family revoked later is inactive at introspection even if its jti was never listed', async () => {
    const userId = (await createUser(first)).id;
    const tokens = await obtainTokens(first, caller, userId, 'read');
    expect(await active(first, tokens.access_token)).toBe(true);
    // A family revoked without its tokens listed (as the lost race used to leave it).
    const { family_id } = await first.services.db
      .selectFrom('refresh_tokens')
      .innerJoin('token_families', 'token_families.id', 'refresh_tokens.family_id')
      .select('refresh_tokens.family_id')
      .where('token_families.user_id', '=', userId)
      .executeTakeFirstOrThrow();
    // Committed as every revocation is, through the audit log (which drops the cached answers).
    await first.services.audit.transact(
      (tx) =>
        tx
          .updateTable('token_families')
          .set({ revoked_at: first.clock.now, revoked_reason: 'test' })
          .where('id', '=', family_id)
          .execute(),
      { event: 'token.revoke', actor: { type: 'admin', id: 'test' }, detail: { family: family_id } },
    );
    expect(await active(first, tokens.access_token)).toBe(false);
    const mint = await first.app.inject({
      method: 'POST',
      url: '/oauth/api-keys',
      headers: {
        authorization: `Bearer ${tokens.access_token}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: 'scope=read',
    });
    expect(mint.statusCode, mint.body).toBe(401);
    expect(mint.json()).toMatchObject({ error: 'invalid_token' });
  });

  describe.runIf(dialect === 'postgres')('inside the transaction (PostgreSQL)', () => {
    let watcher: pg.Client;
    let schema: string;
    beforeAll(async () => {
      schema = new URL(first.database.url).searchParams.get('schema') ?? '';
      watcher = new pg.Client({ connectionString: PG_BASE_URL });
      await watcher.connect();
    });
    afterAll(() => watcher.end());

    /** Resolves once `pending` settled or a backend working in this test's schema waits on a lock. */
    async function settledOrBlocked(pending: Promise<unknown>): Promise<void> {
      let settled = false;
      void pending.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      for (;;) {
        if (settled) return;
        const { rows } = await watcher.query(
          `select 1 from pg_stat_activity a
            where a.wait_event_type = 'Lock' and exists (
              select 1 from pg_locks l join pg_class c on c.oid = l.relation
                join pg_namespace n on n.oid = c.relnamespace
              where l.pid = a.pid and n.nspname = $1)`,
          [schema],
        );
        if (rows.length) return;
      }
    }

    it('R-05: a logout that arrives while the refresh’s transaction is open waits for it and revokes the new token', async () => {
      const userId = (await createUser(first)).id;
      const auth = await requestDeviceCode(first, caller, 'read');
      expect(await approve(first, auth.user_code, userId)).toBe(true);
      const tokens = (await poll(first, caller, auth.device_code)).json() as { refresh_token: string };
      const familyId = await familyOf(first, auth.user_code);

      let logout: Promise<{ statusCode: number }> | undefined;
      interceptNextTransaction(first, (work, transact) =>
        transact(async (tx) => {
          const result = await work(tx);
          logout = revoke(second, caller, tokens.refresh_token);
          await settledOrBlocked(logout);
          return result;
        }),
      );
      const res = await refresh(first, caller, tokens.refresh_token);
      expect((await logout)?.statusCode).toBe(200);
      if (res.statusCode === 200) {
        const renewed = res.json() as { access_token: string };
        expect(await active(first, renewed.access_token)).toBe(false);
      }
      expect(await liveFamilyTokens(first, familyId)).toBe(0);
    });

    it('R-05: users disable while a device code is being redeemed waits for it and revokes the family it made', async () => {
      const userId = (await createUser(first)).id;
      const auth = await requestDeviceCode(first, caller, 'read');
      expect(await approve(first, auth.user_code, userId)).toBe(true);

      let disabling: Promise<unknown> | undefined;
      interceptNextTransaction(first, (work, transact) =>
        transact(async (tx) => {
          const result = await work(tx);
          disabling = disable(second, userId);
          await settledOrBlocked(disabling);
          return result;
        }),
      );
      const res = await poll(first, caller, auth.device_code);
      await disabling;
      if (res.statusCode === 200) {
        const issued = res.json() as { access_token: string };
        expect(await active(first, issued.access_token)).toBe(false);
        expect(await liveFamilyTokens(first, await familyOf(first, auth.user_code))).toBe(0);
      } else {
        expect(res.json()).toMatchObject({ error: 'access_denied' });
      }
    });
  });
});
