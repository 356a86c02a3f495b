/**
 * A KEK rotation moves the secret hashes to a new hashing-key version without re-issuing anything, on
 * each dialect: credentials of every kind made before it (client secret, API keys, refresh token,
 * device code, recovery codes) still work after it through the real HTTP stack, and are then stored
 * under the new version; unknown ones are still refused; two rotations in a row keep the oldest
 * working; a one-use key not yet re-keyed used concurrently counts once; a refresh token presented
 * again after the rotation (and after its old version is retired) is still detected as reuse;
 * retirement is refused while live rows use the version, and `revokeRemaining` revokes them.
 */
import { adminKek, openServices, type Services } from '@clavis/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { TestClock } from '../../../../test/support/clock.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { introspect, revoke } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import { rawRows } from '../../src/storage/raw.js';
import { replaceRecoveryCodes, useRecoveryCode } from '../../src/users/recovery_codes.js';
import { type Caller, createKey, exchange, verify } from '../api_keys/support.js';
import {
  approve,
  deviceRow,
  obtainTokens,
  poll,
  refresh,
  requestDeviceCode,
} from '../device_flow/support.js';

const actor = { type: 'admin' as const, id: 'os:tester@host', ip: null, userAgent: 'clavis-cli' };

describe.each(dialects)('secret hashes across KEK rotations (%s)', (dialect) => {
  let database: TestDatabase;
  let clock: TestClock;
  let server: TestServer;

  const start = () => createTestServer(dialect, { database, clock });
  /** Rotates the KEK (a new key at the top of the key file) with the admin code, then restarts the server. */
  async function rotate(): Promise<adminKek.KekRotation> {
    await server.close();
    const admin = await adminServices();
    try {
      return await adminKek.rotateKek(admin, { generate: true }, actor);
    } finally {
      await admin.close();
      server = await start();
    }
  }
  const adminServices = (): Promise<Services> =>
    openServices({
      dbUrl: database.url,
      kekFile: `${database.dir}/clavis.kek`,
      writer: 'cli',
      clock: clock.read,
      poolSize: 2,
    });
  async function withAdmin<T>(work: (s: Services) => Promise<T>): Promise<T> {
    const admin = await adminServices();
    try {
      return await work(admin);
    } finally {
      await admin.close();
    }
  }
  const hashOf = async (
    table: 'api_keys' | 'client_secrets' | 'refresh_tokens' | 'device_codes',
    id: string,
  ) => {
    const column = {
      api_keys: 'key_hash',
      client_secrets: 'hash',
      refresh_tokens: 'token_hash',
      device_codes: 'device_code_hash',
    }[table];
    const by = table === 'client_secrets' ? 'client_id' : 'id';
    const rows = await rawRows<{ hash: string }>(
      server.services.db,
      `select ${column} as hash from ${table} where ${by} = ?`,
      [id],
    );
    return rows[0]?.hash as string;
  };
  const deviceClient = async (): Promise<Caller> => {
    const c = await server.createClient({
      kind: 'confidential',
      grants: ['device_code', 'refresh_token'],
      scopes: ['openid', 'read'],
    });
    return { id: c.client.id, secret: c.secret ?? '' };
  };

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    clock = new TestClock();
    server = await start();
  });
  afterEach(async () => {
    await server.close();
    await database.drop();
  });

  it('every kind of credential made before a rotation works after it and is then stored under the new version', async () => {
    const caller = await deviceClient();
    const person = await createUser(server);
    const tokens = await obtainTokens(server, caller, person.id);
    const pending = await requestDeviceCode(server, caller);
    const unlimited = await createKey(server, { owner: caller.id });
    const oneUse = await createKey(server, { owner: caller.id, maxUses: 1 });
    const codes = await replaceRecoveryCodes(server.services.db, server.services.hasher, person.id);
    expect(await hashOf('client_secrets', caller.id)).not.toContain('.');

    const rotation = await rotate();
    expect(rotation.moved).toBe(true);
    expect(rotation.hashing.map((h) => [h.version, h.current])).toEqual([
      [1, true],
      [0, false],
    ]);
    expect(rotation.hashing[1]?.live).toEqual({
      api_keys: 2,
      client_secrets: 1,
      refresh_tokens: 1,
      device_codes: 1,
      recovery_codes: 10,
    });
    expect(adminKek.olderTotal(rotation.hashing)).toBe(15);

    // The client secret (authenticating the verify call) and the unlimited key.
    const verified = await verify(server, caller, { key: unlimited.key });
    expect(verified.statusCode, verified.body).toBe(200);
    expect(await hashOf('client_secrets', caller.id)).toMatch(/^v1\./);
    expect(await hashOf('api_keys', unlimited.id)).toMatch(/^v1\./);
    expect((await verify(server, caller, { key: unlimited.key })).statusCode).toBe(200);
    // The one-use key: through the exchange grant.
    expect((await exchange(server, oneUse.key)).statusCode).toBe(200);
    expect(await hashOf('api_keys', oneUse.id)).toMatch(/^v1\./);
    expect((await exchange(server, oneUse.key)).statusCode).toBe(400);
    // The refresh token: it refreshes, and its spent row is re-keyed.
    const refreshed = await refresh(server, caller, tokens.refresh_token);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const rows = await server.services.db.selectFrom('refresh_tokens').select(['token_hash']).execute();
    expect(rows.map((r) => r.token_hash.slice(0, 3)).sort()).toEqual(['v1.', 'v1.']);
    // The pending device code: approved now, redeemed, re-keyed.
    expect(await approve(server, pending.user_code, person.id)).toBe(true);
    const redeemed = await poll(server, caller, pending.device_code);
    expect(redeemed.statusCode, redeemed.body).toBe(200);
    expect(await hashOf('device_codes', (await deviceRow(server, pending.user_code)).id)).toMatch(/^v1\./);
    // A recovery code, once.
    const now = clock.now;
    expect(
      await useRecoveryCode(server.services.db, server.services.hasher, person.id, codes[0] as string, now),
    ).toBe(true);
    expect(
      await useRecoveryCode(server.services.db, server.services.hasher, person.id, codes[0] as string, now),
    ).toBe(false);

    // Unknown credentials are still refused, whatever version they would be under.
    expect((await verify(server, caller, { key: `${unlimited.key.slice(0, -4)}AAAA` })).statusCode).toBe(401);
    expect((await refresh(server, caller, `${tokens.refresh_token.slice(0, -4)}AAAA`)).json()).toEqual({
      error: 'invalid_grant',
      error_description: 'refresh token is invalid',
    });
    expect(
      (await verify(server, { id: caller.id, secret: `${caller.secret}x` }, { key: unlimited.key }))
        .statusCode,
    ).toBe(401);
    expect(
      await useRecoveryCode(server.services.db, server.services.hasher, person.id, 'aaaaa-aaaaa', now),
    ).toBe(false);

    const status = await withAdmin((s) => adminKek.kekStatus(s));
    expect(status.hashing[1]).toMatchObject({ version: 0, total: 9, live: { recovery_codes: 9 } });
  });

  it('a leaked key, an introspected and a revoked refresh token are found under an older version too', async () => {
    const caller = await deviceClient();
    const person = await createUser(server);
    const leaked = await createKey(server, { owner: caller.id });
    const kept = await obtainTokens(server, caller, person.id);
    const ended = await obtainTokens(server, caller, person.id);
    await rotate();
    const report = await server.app.inject({
      method: 'POST',
      url: '/oauth/api-keys/leaks',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify([{ token: leaked.key, type: 'clavis_api_key', url: 'https://example.test/x' }]),
      remoteAddress: '198.51.100.50',
    });
    expect(report.statusCode, report.body).toBeLessThan(300);
    expect((await verify(server, caller, { key: leaked.key })).statusCode).toBe(401);
    expect((await introspect(server, caller, kept.refresh_token)).json()).toMatchObject({ active: true });
    // Introspection is a read: the token is re-keyed at its next refresh, not here.
    expect((await revoke(server, caller, ended.refresh_token)).statusCode).toBe(200);
    expect((await refresh(server, caller, ended.refresh_token)).statusCode).toBe(400);
    expect((await refresh(server, caller, kept.refresh_token)).statusCode).toBe(200);
  });

  it('two rotations in a row: a credential from before both still works and moves to the newest version', async () => {
    const caller = await deviceClient();
    const key = await createKey(server, { owner: caller.id });
    const unused = await createKey(server, { owner: caller.id });
    await rotate();
    const middle = await createKey(server, { owner: caller.id });
    expect(await hashOf('api_keys', middle.id)).toMatch(/^v1\./);
    const second = await rotate();
    expect(second.hashing.map((h) => h.version)).toEqual([2, 1, 0]);
    const ok = await verify(server, caller, { key: key.key });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(await hashOf('api_keys', key.id)).toMatch(/^v2\./);
    expect(await hashOf('client_secrets', caller.id)).toMatch(/^v2\./);

    // Versions 1 and 0 both still hold a live key: a fourth version is refused (and nothing moves).
    const other = await createKey(server, { owner: caller.id });
    await server.close();
    const refused = await withAdmin(async (s) => {
      const kekFile = `${database.dir}/clavis.kek`;
      const { readFileSync } = await import('node:fs');
      const before = readFileSync(kekFile, 'utf8');
      const error = await adminKek.rotateKek(s, { generate: true }, actor).catch((e: unknown) => e);
      expect(readFileSync(kekFile, 'utf8')).toBe(before);
      return error;
    });
    server = await start();
    expect(refused).toMatchObject({ code: 'conflict' });
    expect(String(refused)).toContain('secret-hashing key version 0 still has live credentials');
    expect(await hashOf('api_keys', other.id)).toMatch(/^v2\./);

    // Once version 1's key is used (re-keyed), version 1 holds nothing live, and the next rotation drops it.
    expect((await verify(server, caller, { key: middle.key })).statusCode).toBe(200);
    const third = await rotate();
    expect(third.droppedHashingVersions).toEqual([1]);
    expect(third.hashing.map((h) => h.version)).toEqual([3, 2, 0]);
    expect((await verify(server, caller, { key: unused.key })).statusCode).toBe(200);
    expect(await hashOf('api_keys', unused.id)).toMatch(/^v3\./);
  });

  it('a one-use key not yet re-keyed, used concurrently, is counted once', async () => {
    const caller = await deviceClient();
    const { id, key } = await createKey(server, { owner: caller.id, maxUses: 1 });
    await rotate();
    const results = await Promise.all(Array.from({ length: 6 }, () => verify(server, caller, { key })));
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
    const row = await server.services.db
      .selectFrom('api_keys')
      .select(['uses', 'key_hash'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(Number(row.uses)).toBe(1);
    expect(row.key_hash).toMatch(/^v1\./);
    expect(
      (await auditRecords(server, 'api_key.use')).filter((r) => r.detail.api_key_id === id),
    ).toHaveLength(1);
  });

  it('refresh-token reuse is still detected after a rotation, and after the old version is retired', async () => {
    const caller = await deviceClient();
    const person = await createUser(server);
    // One token spent before the rotation, one after.
    const early = await obtainTokens(server, caller, person.id);
    expect((await refresh(server, caller, early.refresh_token)).statusCode).toBe(200);
    const late = await obtainTokens(server, caller, person.id);
    await rotate();

    const replayedEarly = await refresh(server, caller, early.refresh_token);
    expect(replayedEarly.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'refresh token is invalid',
    });
    const next = await refresh(server, caller, late.refresh_token);
    expect(next.statusCode, next.body).toBe(200);

    // The early family is revoked; the late one lives, all its tokens under version 1: version 0 can go.
    const retired = await withAdmin((s) => adminKek.retireHashes(s, { version: 0 }, actor));
    expect(retired.hashing.map((h) => h.version)).toEqual([1]);
    await server.close();
    server = await start();
    const replayedLate = await refresh(server, caller, late.refresh_token);
    expect(replayedLate.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'refresh token is invalid',
    });
    const theft = (await auditRecords(server, 'token.refresh_reuse')).map((r) => r.detail.likely_theft);
    expect(theft).toEqual([true, true]);
  });

  it('retiring a version is refused while live rows use it; revoking them with it ends them', async () => {
    const caller = await deviceClient();
    const key = await createKey(server, { owner: caller.id });
    await rotate();
    const refused = await withAdmin((s) =>
      adminKek.retireHashes(s, { version: 0 }, actor).catch((e: unknown) => e),
    );
    expect(String(refused)).toContain(
      'version 0 still stores live credentials (1 api_keys, 1 client_secrets)',
    );
    expect(
      String(
        await withAdmin((s) => adminKek.retireHashes(s, { version: 1 }, actor).catch((e: unknown) => e)),
      ),
    ).toContain('version 1 is the current secret-hashing key');
    for (const version of [-1, 1.5, Number.NaN]) {
      const bad = await withAdmin((s) =>
        adminKek.retireHashes(s, { version }, actor).catch((e: unknown) => e),
      );
      expect(bad).toMatchObject({ code: 'invalid_input' });
    }
    const done = await withAdmin((s) =>
      adminKek.retireHashes(s, { version: 0, revokeRemaining: true }, actor),
    );
    expect(done.revoked).toMatchObject({ api_keys: 1, client_secrets: 1 });
    await server.close();
    server = await start();
    expect((await verify(server, caller, { key: key.key })).statusCode).toBe(401);
    const records = await auditRecords(server, 'kek.retire_hashes');
    expect(records.map((r) => r.outcome).sort()).toEqual([...Array(5).fill('failure'), 'success']);
  });
});
