/**
 * Abuse levers on the verification pages: the global user-code budget, per-/64 budgets, the global
 * sign-in budget, temporary growing lockouts with a hard bound, and no account state before the password.
 */
import { adminUsers } from '@clavis/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createUser, PASSWORD, userRow } from '../../../../test/support/users.js';
import { budgetAddress } from '../../src/storage/rate_limits.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  deviceCodeRow,
  type PagesServer,
} from './support.js';

function wrongCode(real: string, n: number): string {
  const alphabet = 'BCDFGHJKLMNPQRSTVWXZ';
  let out = '';
  for (let i = 0; i < 8; i++) out += alphabet[(n * 7 + i * 3) % 20];
  return out === real ? wrongCode(real, n + 1) : out;
}

const WRONG = 'Wrong username or password.';

describe('budgetAddress', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    [null, 'unknown'],
    ['not an address', 'unknown'],
  ])('%s → %s', (ip, expected) => {
    expect(budgetAddress(ip)).toBe(expected);
  });
});

describe.each(dialects)('abuse budgets on the verification pages (%s)', (dialect) => {
  let server: PagesServer;
  let clientId: string;
  beforeEach(async () => {
    server = await createPagesServer(dialect, {
      config: { userCodeAttemptsGlobalPerMinute: 3, maxFailedSignIns: 3, signInHardLockAfter: 6 },
    });
    clientId = await createDeviceClient(server);
  });
  afterEach(async () => {
    await server.close();
  });

  it('DF-10: wrong codes spending the global budget do not shut out a person with a right code', async () => {
    const victim = await createDeviceRequest(server, clientId);
    for (let i = 0; i < 4; i++) {
      const attacker = new Browser(server, `192.0.2.${10 + i}`);
      await attacker.get('/device');
      const res = await attacker.post('/device', { user_code: wrongCode(victim.userCode, i) });
      expect(res.statusCode).toBe(i < 3 ? 400 : 429);
    }
    const owner = new Browser(server, '198.51.100.23');
    expect((await owner.enterCode(victim.shown)).statusCode).toBe(303);
    expect((await deviceCodeRow(server, victim.id)).claimed_by_session).not.toBeNull();
  });

  it('DF-10: addresses of one IPv6 /64 share one per-address budget', async () => {
    const victim = await createDeviceRequest(server, clientId);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const browser = new Browser(server, `2001:db8:1:2::${(i + 1).toString(16)}`);
      await browser.get('/device');
      statuses.push((await browser.post('/device', { user_code: wrongCode(victim.userCode, i) })).statusCode);
      server.clock.advance(1); // distinct attempts, same minute
    }
    // The global budget (3) is not what stops them: 5 per address, then 429 for the whole /64.
    expect(statuses.slice(0, 3)).toEqual([400, 400, 400]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    const other = new Browser(server, '2001:db8:1:3::1');
    await other.get('/device');
    // Another /64 is not affected by the first one's per-address budget.
    const res = await other.post('/device', { user_code: victim.shown });
    expect(res.statusCode).toBe(303);
  });

  it('sign-in attempts are bounded in total, across addresses', async () => {
    const limited = await createPagesServer(dialect, {
      clock: server.clock,
      database: server.database,
      config: { signInAttemptsGlobalPerMinute: 2 },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const browser = new Browser(limited, `192.0.2.${50 + i}`);
        statuses.push((await browser.signIn('nobody', 'guess')).statusCode);
      }
      expect(statuses).toEqual([401, 401, 429]);
    } finally {
      await limited.close();
    }
  });

  it('DF-13: a disabled account answers like a wrong password until the password is right', async () => {
    const disabled = await createUser(server, { password: PASSWORD, disabled: server.clock.now });
    const browser = new Browser(server);
    const wrong = await browser.signIn(disabled.username, 'not the password');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain(WRONG);
    expect(wrong.body).not.toContain('disabled');
    const right = await browser.signIn(disabled.username);
    expect(right.statusCode).toBe(403);
    expect(right.body).toContain('This account is disabled.');
  });

  it('DF-13: lockout is temporary and growing, and locked accounts look like any wrong password', async () => {
    const user = await createUser(server, { password: PASSWORD });
    const browser = new Browser(server, '192.0.2.200');
    const attempt = async (password: string) => {
      server.clock.advance(1);
      return browser.signIn(user.username, password);
    };
    for (let i = 0; i < 3; i++) expect((await attempt(`wrong${i}`)).statusCode).toBe(401);
    const row = await userRow(server, user.id);
    expect(row.failed_logins).toBe(3);
    expect(row.locked_at).toBeNull();
    expect(Number(row.locked_until)).toBe(server.clock.now + 60_000);

    // Locked for a minute: even the right password gets the same answer, and nothing is counted.
    const during = await attempt(PASSWORD);
    expect(during.statusCode).toBe(401);
    expect(during.body).toContain(WRONG);
    expect((await userRow(server, user.id)).failed_logins).toBe(3);

    // After the minute the right password works again (and resets the count).
    server.clock.advanceSeconds(61);
    expect((await attempt(PASSWORD)).statusCode).toBe(303);
    expect((await userRow(server, user.id)).failed_logins).toBe(0);
  });

  it('DF-13: each further failure doubles the lock; at the hard bound only an administrator unlocks', async () => {
    const user = await createUser(server, { password: PASSWORD });
    const durations: number[] = [];
    for (let i = 0; i < 6; i++) {
      // A new address every time: the per-address budget is not what is tested here.
      const browser = new Browser(server, `192.0.2.${100 + i}`);
      expect((await browser.signIn(user.username, `wrong${i}`)).statusCode).toBe(401);
      const row = await userRow(server, user.id);
      durations.push(row.locked_until === null ? 0 : Number(row.locked_until) - server.clock.now);
      if (row.locked_until !== null) server.clock.now = Number(row.locked_until) + 1;
    }
    expect(durations).toEqual([0, 0, 60_000, 120_000, 240_000, 480_000]);
    const row = await userRow(server, user.id);
    expect(row.locked_at).not.toBeNull();
    server.clock.advanceSeconds(86_400);
    expect((await new Browser(server, '192.0.2.150').signIn(user.username)).statusCode).toBe(401);

    await adminUsers.unlockUser(
      {
        db: server.services.db,
        audit: server.services.audit,
        clock: server.clock.read,
        totpKey: server.services.totpKey,
      },
      user.username,
      { type: 'admin', id: 'test' },
    );
    const unlocked = await userRow(server, user.id);
    expect([unlocked.locked_at, unlocked.locked_until, unlocked.failed_logins]).toEqual([null, null, 0]);
    expect((await new Browser(server, '192.0.2.151').signIn(user.username)).statusCode).toBe(303);
  });
});
