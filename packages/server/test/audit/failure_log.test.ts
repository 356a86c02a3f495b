/**
 * Unauthenticated failures are throttled per address before they are recorded, and repeated alike
 * failures become one record with a count per window; unknown usernames never reach the log as typed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { basic } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { Browser } from '../pages/support.js';

const CC = { grant_type: 'client_credentials' };

describe.each(dialects)('failure records (%s)', (dialect) => {
  let server: TestServer;
  afterEach(async () => {
    await server.close();
  });

  async function auditRows(event: string) {
    await server.services.audit.drain();
    const rows = await server.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', event)
      .orderBy('segment')
      .orderBy('seq')
      .execute();
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  const attempt = (n: number, remoteAddress = '192.0.2.9') =>
    server.app.inject({
      method: 'POST',
      url: '/oauth/token',
      remoteAddress,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(`svc_nosuch${n}`, 'x'),
        'user-agent': `flood/${n}`,
      },
      payload: new URLSearchParams(CC).toString(),
    });

  it('a flood of refusals from one address writes a bounded number of records, whatever its size', async () => {
    const budget = 10;
    server = await createTestServer(dialect, { config: { authFailuresPerAddressPerMinute: budget } });
    const before = await server.services.db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    // 2,000 refusals in one window, each with another client id and user agent.
    const flood = 2000;
    for (let i = 0; i < flood; i++) await attempt(i);
    server.clock.advanceSeconds(60);
    await server.failures.flush();
    const rows = await auditRows('client.auth_failed');
    // At most: one record per kind under the budget, each kind's aggregate, one aggregate of the rest.
    expect(rows.length).toBeLessThanOrEqual(2 * budget + 1);
    const counted = rows.reduce((n, r) => n + (typeof r.detail.count === 'number' ? r.detail.count : 1), 0);
    expect(counted).toBe(flood);
    const after = await server.services.db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n) - Number(before.n)).toBe(rows.length);
  });

  it('failed client authentication is throttled per address (429, RFC 6749 JSON, Retry-After) and aggregated', async () => {
    server = await createTestServer(dialect, { config: { authFailuresPerAddressPerMinute: 10 } });
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await attempt(i);
      statuses.push(res.statusCode);
      if (res.statusCode === 429) {
        expect(res.json()).toMatchObject({ error: 'too_many_requests' });
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(40).fill(429));
    // Another address has its own budget.
    expect((await attempt(99, '198.51.100.1')).statusCode).toBe(401);
    // So does a valid client on the throttled address: only failures are charged.
    const { client, secret } = await server.createClient({});
    const ok = await server.app.inject({
      method: 'POST',
      url: '/oauth/token',
      remoteAddress: '192.0.2.9',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(client.id, secret ?? ''),
      },
      payload: new URLSearchParams(CC).toString(),
    });
    expect(ok.statusCode).toBe(200);

    // While the window lasts, one record stands for the 50 failures from 192.0.2.9.
    const during = (await auditRows('client.auth_failed')).filter((r) => r.ip === '192.0.2.9');
    expect(during).toHaveLength(1);
    expect(during[0]?.detail).toEqual({
      endpoint: 'token',
      reason: 'unknown client',
      request_id: expect.any(String),
    });

    // The window ends: the rest is written as aggregates carrying count and window.
    server.clock.advanceSeconds(60);
    await server.failures.flush();
    const after = (await auditRows('client.auth_failed')).filter((r) => r.ip === '192.0.2.9');
    expect(after).toHaveLength(3);
    const windowStart = new Date(Math.floor((server.clock.now - 60_000) / 60_000) * 60_000).toISOString();
    const [, repeated, throttled] = after;
    expect(repeated?.detail).toMatchObject({ reason: 'unknown client', count: 9, window_start: windowStart });
    expect(throttled?.detail).toMatchObject({ reason: 'rate_limited', count: 40, window_start: windowStart });
    expect(repeated?.user_agent).toBeNull();
  });

  it('one IPv6 /64 shares one failure budget', async () => {
    server = await createTestServer(dialect, { config: { authFailuresPerAddressPerMinute: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await attempt(i, `2001:db8:7:7::${i + 1}`)).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });

  it('an unknown username is recorded as a keyed hash, never as typed', async () => {
    server = await createTestServer(dialect);
    const typed = 'Tr0ub4dor&3-correct-horse';
    const browser = new Browser(server, '192.0.2.77');
    expect((await browser.signIn(typed, 'whatever')).statusCode).toBe(401);
    expect((await new Browser(server, '192.0.2.78').signIn(typed, 'again')).statusCode).toBe(401);
    const rows = await auditRows('user.sign_in_failed');
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(JSON.stringify(row)).not.toContain(typed);
      expect(row.detail).toEqual({
        reason: 'unknown_user',
        username_hmac: expect.stringMatching(/^hmac:/),
        request_id: expect.any(String),
      });
    }
    // The same name gives the same hash (an operator holding the KEK can check a guess), another not.
    expect(rows[0]?.detail.username_hmac).toBe(rows[1]?.detail.username_hmac);
    expect(server.failures.usernameHash(typed)).toBe(rows[0]?.detail.username_hmac);
    expect(server.failures.usernameHash('someone-else')).not.toBe(rows[0]?.detail.username_hmac);
  });

  it('repeated wrong user codes from one address become one record and one count', async () => {
    server = await createTestServer(dialect);
    const browser = new Browser(server, '192.0.2.80');
    await browser.get('/device');
    for (let i = 0; i < 7; i++) await browser.post('/device', { user_code: 'BCDF-GHJK' });
    server.clock.advanceSeconds(60);
    await server.failures.flush();
    const rows = (await auditRows('device.code_entered')).map((r) => r.detail);
    expect(rows).toEqual([
      { reason: 'unknown_or_expired', request_id: expect.any(String) },
      expect.objectContaining({ reason: 'unknown_or_expired', count: 4 }),
      expect.objectContaining({ reason: 'rate_limited', count: 2 }),
    ]);
  });
});
