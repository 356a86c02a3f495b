/**
 * Verification may remember keys, but never past a change: a revocation, rotation or owner change made
 * by this process takes effect on the very next call; one made by another process or instance, on
 * SQLite at once (`PRAGMA data_version`), on PostgreSQL as soon as its notification arrives
 * (milliseconds; a hand-written change announces itself with `pg_notify`, as the docs say).
 */
import { adminApiKeys, sweepIdleApiKeys } from '@clavis/server';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { until } from '../../../../test/support/until.js';
import { ADMIN, type Caller, createKey, exchange, keyAdminDeps, registerCaller, verify } from './support.js';

describe.each(dialects)('changes take effect at once on every instance (%s)', (dialect) => {
  let a: TestServer;
  let b: TestServer;
  let owner: Caller;
  let rs: Caller;

  /** Used twice on A, so A has certainly remembered it if it remembers anything. */
  async function warm(key: string): Promise<void> {
    for (let i = 0; i < 2; i++) expect((await verify(a, rs, { key })).statusCode).toBe(200);
    expect((await exchange(a, key)).statusCode).toBe(200);
  }

  /** A change committed elsewhere: honoured at once on SQLite, within milliseconds on PostgreSQL. */
  async function honoured(what: string, check: () => Promise<boolean>): Promise<void> {
    if (dialect === 'sqlite') expect(await check(), what).toBe(true);
    else await until(check, { withinMs: 2000, what });
  }

  /** What an operator's hand-written change must add on PostgreSQL: the change announcement. */
  async function announce(server: TestServer): Promise<void> {
    if (dialect === 'postgres') {
      await sql`select pg_notify('clavis_changes', current_schema())`.execute(server.services.db);
    }
  }

  beforeAll(async () => {
    a = await createTestServer(dialect);
    // A second instance: its own connection, its own audit writer.
    b = await createTestServer(dialect, { database: a.database, clock: a.clock });
    owner = await registerCaller(a, { scopes: ['read', 'write'] });
    rs = await registerCaller(a);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('revoked on another instance', async () => {
    const { id, key } = await createKey(a, { owner: owner.id });
    await warm(key);
    await adminApiKeys.revokeApiKey(keyAdminDeps(b), id, ADMIN);
    await honoured('revoked', async () => (await verify(a, rs, { key })).statusCode === 401);
    expect((await exchange(a, key)).statusCode).toBe(400);
  });

  it('rotated on another instance: the old key stops when its cut-short life ends', async () => {
    const { id, key } = await createKey(a, { owner: owner.id, ttlSeconds: 86_400 });
    await warm(key);
    await adminApiKeys.rotateApiKey(keyAdminDeps(b), id, { graceSeconds: 60 }, ADMIN);
    a.clock.advanceSeconds(60);
    await honoured('rotated', async () => (await verify(a, rs, { key })).statusCode === 401);
  });

  it('the owner disabled by another connection', async () => {
    const doomed = await registerCaller(a, { scopes: ['read'] });
    const { key } = await createKey(a, { owner: doomed.id });
    await warm(key);
    await b.services.db
      .updateTable('clients')
      .set({ disabled_at: a.clock.now })
      .where('id', '=', doomed.id)
      .execute();
    await announce(b);
    await honoured('owner disabled', async () => (await verify(a, rs, { key })).statusCode === 401);
  });

  it("the owner's ceiling narrowed by another connection narrows the key", async () => {
    const narrowing = await registerCaller(a, { scopes: ['read', 'write'] });
    const { key } = await createKey(a, { owner: narrowing.id, scopes: ['read', 'write'] });
    await warm(key);
    await b.services.db
      .updateTable('clients')
      .set({ scopes: JSON.stringify(['read']) })
      .where('id', '=', narrowing.id)
      .execute();
    await announce(b);
    await honoured(
      'ceiling narrowed',
      async () => (await verify(a, rs, { key, scope: 'write' })).statusCode === 403,
    );
    const res = await verify(a, rs, { key, scope: 'write' });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toBe('insufficient_scope');
  });

  it('revoked in this process: by a leak report, by the idle sweep, by the admin module', async () => {
    const leaked = await createKey(a, { owner: owner.id });
    await warm(leaked.key);
    const report = await a.app.inject({
      method: 'POST',
      url: '/oauth/api-keys/leaks',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify([{ token: leaked.key }]),
    });
    expect(report.json()).toEqual({ reported: 1, revoked: 1 });
    expect((await verify(a, rs, { key: leaked.key })).statusCode).toBe(401);

    const admin = await createKey(a, { owner: owner.id });
    await warm(admin.key);
    await adminApiKeys.revokeApiKey(keyAdminDeps(a), admin.id, ADMIN);
    expect((await verify(a, rs, { key: admin.key })).statusCode).toBe(401);

    const idle = await createKey(a, { owner: owner.id, ttlSeconds: 80 * 86_400 });
    await warm(idle.key);
    // The use above is still in memory; make it reach the row, then let the key go idle.
    await a.app.close();
    const c = await createTestServer(dialect, { database: a.database, clock: a.clock });
    try {
      await warm2(c, idle.key);
      a.clock.advanceSeconds(31 * 86_400);
      await sweepIdleApiKeys(
        { db: c.services.db, audit: c.services.audit, clock: c.clock.read },
        30 * 86_400,
      );
      expect((await verify(c, rs, { key: idle.key })).statusCode).toBe(401);
    } finally {
      await c.close();
    }
  });

  async function warm2(server: TestServer, key: string): Promise<void> {
    for (let i = 0; i < 2; i++) expect((await verify(server, rs, { key })).statusCode).toBe(200);
  }
});
