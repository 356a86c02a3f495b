/**
 * The current signing key is loaded before a unit of work enters its transaction. On SQLite one
 * connection serves everything: a key loaded from inside a transaction would wait for the connection
 * that very transaction holds, and the server would hang for good (`/readyz` included). The clock steps
 * across key slots here, as after a suspend or with a short rotation interval.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { kidOf } from '../../../../test/support/jwt.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import { approve, obtainTokens, poll, refresh, requestDeviceCode } from '../device_flow/support.js';

const HOUR = 3600;

/** Fails with `what` instead of waiting forever when `promise` never settles. */
async function within<T>(what: string, promise: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe.each(dialects)('signing key loaded outside transactions (%s)', (dialect) => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(): Promise<TestServer> {
    // The device request outlives the clock step, so only the signing key is in question.
    server = await createTestServer(dialect, {
      config: { keyRotationIntervalSeconds: HOUR, deviceCodeTtlSeconds: 4 * HOUR },
    });
    return server;
  }

  async function deviceClient(s: TestServer) {
    const c = await s.createClient({
      kind: 'confidential',
      grants: ['device_code', 'refresh_token'],
      scopes: ['openid', 'read'],
    });
    return { id: c.client.id, secret: c.secret ?? '' };
  }

  it('a refresh after the clock stepped 2.5 slots ahead answers, and so do /readyz and client_credentials', async () => {
    const s = await start();
    const caller = await deviceClient(s);
    const userId = (await createUser(s)).id;
    const tokens = await obtainTokens(s, caller, userId, 'openid read');
    const service = await s.createClient({});

    s.clock.advanceSeconds(2.5 * HOUR);
    const res = await within('refresh grant', refresh(s, caller, tokens.refresh_token));
    expect(res.statusCode, res.body).toBe(200);
    const ready = await within('/readyz', s.app.inject({ method: 'GET', url: '/readyz' }));
    expect(ready.statusCode).toBe(200);
    const cc = await within(
      'client_credentials',
      post(
        s,
        '/oauth/token',
        { grant_type: 'client_credentials' },
        { authorization: basic(service.client.id, service.secret ?? '') },
      ),
    );
    expect(cc.statusCode).toBe(200);
  });

  it('a device-code redemption after the clock stepped 2.5 slots ahead answers', async () => {
    const s = await start();
    const caller = await deviceClient(s);
    const userId = (await createUser(s)).id;
    const auth = await requestDeviceCode(s, caller, 'openid');
    expect(await approve(s, auth.user_code, userId)).toBe(true);

    s.clock.advanceSeconds(2.5 * HOUR);
    const res = await within('device_code grant', poll(s, caller, auth.device_code));
    expect(res.statusCode, res.body).toBe(200);
    const kid = kidOf((res.json() as { access_token: string }).access_token);
    expect(kid).toBe((await s.services.keys.current()).kid);
  });

  it.runIf(dialect === 'sqlite')(
    'a query through the root handle inside a transaction fails at once with a clear error',
    async () => {
      const s = await start();
      const { db, audit } = s.services;
      const inside = audit.transact(
        async () => db.selectFrom('clients').select('id').execute(),
        () => null,
      );
      await expect(within('root query in a transaction', inside)).rejects.toThrow(
        /root database handle inside a transaction/,
      );
      // The connection is free again: the server goes on answering.
      const ready = await within('/readyz', s.app.inject({ method: 'GET', url: '/readyz' }));
      expect(ready.statusCode).toBe(200);
      // A plain Kysely transaction is guarded the same way.
      await expect(
        within(
          'root query in db.transaction()',
          db.transaction().execute(async () => db.selectFrom('clients').select('id').execute()),
        ),
      ).rejects.toThrow(/root database handle inside a transaction/);
      expect(await within('root query after', db.selectFrom('clients').select('id').execute())).toEqual([]);
    },
  );
});
