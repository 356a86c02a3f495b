/**
 * Races at the two moments a token is minted from something spendable: redeeming an approved device
 * code and rotating a refresh token. Two server instances share one database, as a
 * deployment behind a load balancer would; requests are fired together, no sleeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import {
  approve,
  countRows,
  familyOf,
  obtainTokens,
  poll,
  refresh,
  requestDeviceCode,
  type UserTokens,
} from './support.js';

describe.each(dialects)('races (%s)', (dialect) => {
  let first: TestServer;
  let second: TestServer;
  let userId: string;

  beforeAll(async () => {
    first = await createTestServer(dialect);
    second = await createTestServer(dialect, { database: first.database, clock: first.clock });
    userId = (await createUser(first)).id;
  });
  afterAll(async () => {
    await second.close();
    await first.close();
  });

  const instance = (i: number) => (i % 2 === 0 ? first : second);

  it('R-01: 50 parallel polls with one approved device_code on 2 instances → exactly one 200, 49 invalid_grant, one family', async () => {
    const { client } = await first.createClient({ kind: 'public', scopes: ['read'] });
    const auth = await requestDeviceCode(first, client.id, 'read');
    expect(await approve(first, auth.user_code, userId)).toBe(true);

    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => poll(instance(i), client.id, auth.device_code)),
    );
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    const losers = responses.filter((r) => r.statusCode !== 200);
    expect(losers).toHaveLength(49);
    for (const r of losers) {
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json()).toEqual({
        error: 'invalid_grant',
        error_description: 'device_code has already been used',
      });
    }
    expect(await countRows(first, 'token_families', { column: 'client_id', value: client.id })).toBe(1);
    const familyId = await familyOf(first, auth.user_code);
    expect(await countRows(first, 'refresh_tokens', { column: 'family_id', value: familyId })).toBe(1);
  });

  it('DF-04: 10 parallel polls of one pending code on 2 instances → one on time (authorization_pending), 9 slow_down', async () => {
    const { client } = await first.createClient({ kind: 'public', scopes: ['read'] });
    const auth = await requestDeviceCode(first, client.id, 'read');
    expect((await poll(first, client.id, auth.device_code)).json().error).toBe('authorization_pending');
    first.clock.advanceSeconds(auth.interval);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => poll(instance(i), client.id, auth.device_code)),
    );
    const errors = responses.map((r) => (r.json() as { error: string }).error);
    expect(errors.filter((e) => e === 'authorization_pending')).toHaveLength(1);
    expect(errors.filter((e) => e === 'slow_down')).toHaveLength(9);
  });

  it('R-02: 20 parallel refreshes with one refresh token on 2 instances → at most one successor, never two live chains', async () => {
    const { client } = await first.createClient({ kind: 'public', scopes: ['read'] });
    const auth = await requestDeviceCode(first, client.id, 'read');
    expect(await approve(first, auth.user_code, userId)).toBe(true);
    const issued = await poll(first, client.id, auth.device_code);
    expect(issued.statusCode).toBe(200);
    const tokens = issued.json() as UserTokens;
    const familyId = await familyOf(first, auth.user_code);

    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => refresh(instance(i), client.id, tokens.refresh_token)),
    );
    const winners = responses.filter((r) => r.statusCode === 200);
    expect(winners.length).toBeLessThanOrEqual(1);
    for (const r of responses.filter((r) => r.statusCode !== 200)) {
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json()).toEqual({ error: 'invalid_grant', error_description: 'refresh token is invalid' });
    }
    // At most one successor was minted: the original plus at most one more.
    expect(
      await countRows(first, 'refresh_tokens', { column: 'family_id', value: familyId }),
    ).toBeLessThanOrEqual(2);

    // After the dust settles, at most one token of the family can still be used (the losers count as
    // reuse, so the family is expected to be revoked entirely).
    const candidates = [tokens.refresh_token, ...winners.map((r) => (r.json() as UserTokens).refresh_token)];
    const usable = [];
    for (const rt of candidates) {
      const res = await refresh(first, client.id, rt);
      if (res.statusCode === 200) usable.push(rt);
    }
    expect(usable.length).toBeLessThanOrEqual(1);
  });

  it('R-02: the same race for a token obtained through obtainTokens on the second instance', async () => {
    const { client } = await first.createClient({ kind: 'public', scopes: ['read'] });
    const tokens = await obtainTokens(second, client.id, userId, 'read');
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => refresh(instance(i + 1), client.id, tokens.refresh_token)),
    );
    expect(responses.filter((r) => r.statusCode === 200).length).toBeLessThanOrEqual(1);
    expect(responses.every((r) => r.statusCode === 200 || r.statusCode === 400)).toBe(true);
    const families = await first.services.db
      .selectFrom('token_families')
      .select('id')
      .where('client_id', '=', client.id)
      .execute();
    expect(families).toHaveLength(1);
    const rows = await countRows(first, 'refresh_tokens', {
      column: 'family_id',
      value: families[0]?.id ?? '',
    });
    expect(rows).toBeLessThanOrEqual(2);
  });
});
