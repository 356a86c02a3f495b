/** /device/login and /device/mfa: lockout (DF-13, MF-02), one use per TOTP step (MF-01), bad input. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createUser, PASSWORD, userRow } from '../../../../test/support/users.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  type PagesServer,
  totpCode,
} from './support.js';

describe.each(dialects)('sign-in and second factor (%s)', (dialect) => {
  let server: PagesServer;
  let clientId: string;
  beforeEach(async () => {
    server = await createPagesServer(dialect, { config: { maxFailedSignIns: 3 } });
    clientId = await createDeviceClient(server);
  });
  afterEach(async () => {
    await server.close();
  });

  it('DF-13: a locked or a disabled account cannot sign in, even with the right password', async () => {
    const locked = await createUser(server, { password: PASSWORD, locked: server.clock.now });
    const disabled = await createUser(server, { password: PASSWORD, disabled: server.clock.now });
    const browser = new Browser(server);
    // A lock never shows on the sign-in page: its password is not even tried.
    const a = await browser.signIn(locked.username);
    expect(a.statusCode).toBe(401);
    expect(a.body).toContain('Wrong username or password.');
    const b = await browser.signIn(disabled.username);
    expect(b.statusCode).toBe(403);
    expect(b.body).toContain('This account is disabled.');
    const sessions = await server.services.db.selectFrom('sessions').select('user_id').execute();
    expect(sessions.every((s) => s.user_id === null)).toBe(true);
  });

  it('DF-13: consecutive wrong passwords lock the account at maxFailedSignIns; a success before resets the count', async () => {
    const user = await createUser(server, { password: PASSWORD });
    const browser = new Browser(server);
    await browser.get('/device/login');
    const first = await browser.post('/device/login', { username: user.username, password: 'wrong' });
    expect(first.statusCode).toBe(401);
    expect(first.body).toContain('Wrong username or password.');
    expect((await userRow(server, user.id)).failed_logins).toBe(1);
    expect(
      (
        await browser.post('/device/login', {
          username: user.username,
          password: 'correct horse battery staple',
        })
      ).statusCode,
    ).toBe(303);
    expect((await userRow(server, user.id)).failed_logins).toBe(0);

    const again = new Browser(server);
    await again.get('/device/login');
    expect(
      (await again.post('/device/login', { username: user.username, password: 'wrong1' })).statusCode,
    ).toBe(401);
    expect(
      (await again.post('/device/login', { username: user.username, password: 'wrong2' })).statusCode,
    ).toBe(401);
    const third = await again.post('/device/login', { username: user.username, password: 'wrong3' });
    expect(third.statusCode).toBe(401);
    expect(third.body).toContain('Wrong username or password.');
    const row = await userRow(server, user.id);
    expect(row.failed_logins).toBe(3);
    expect(row.locked_at).toBeNull();
    expect(Number(row.locked_until)).toBe(server.clock.now + 60_000);
    expect(
      (
        await again.post('/device/login', {
          username: user.username,
          password: 'correct horse battery staple',
        })
      ).statusCode,
    ).toBe(401);
  });

  it('an unknown username and an oversized username get pages, not errors', async () => {
    const browser = new Browser(server);
    await browser.get('/device/login');
    const unknown = await browser.post('/device/login', { username: 'nobody', password: 'x' });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.body).toContain('Wrong username or password.');
    const huge = await browser.post('/device/login', { username: 'u'.repeat(10_000), password: 'x' });
    expect(huge.statusCode).toBe(400);
    expect(huge.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(huge.body).toContain('too long');
  });

  it('MF-01: the same TOTP twice in its step: the second is rejected', async () => {
    const user = await createUser(server, { password: PASSWORD, totp: true });
    const code = totpCode(server);
    const first = new Browser(server);
    await first.enterCode((await createDeviceRequest(server, clientId)).shown);
    await first.signIn(user.username);
    await first.get('/device/mfa');
    expect((await first.post('/device/mfa', { code })).headers.location).toBe('/device/consent');

    server.clock.advanceSeconds(10); // same step (or the next, within the ±1 window)
    const second = new Browser(server);
    await second.enterCode((await createDeviceRequest(server, clientId)).shown);
    await second.signIn(user.username);
    await second.get('/device/mfa');
    const replay = await second.post('/device/mfa', { code });
    expect(replay.statusCode).toBe(401);
    expect((await second.get('/device/consent')).headers.location).toBe('/device/mfa');

    // The next step's code works.
    server.clock.advanceSeconds(30);
    expect((await second.post('/device/mfa', { code: totpCode(server) })).statusCode).toBe(303);
  });

  it('MF-02: consecutive wrong codes lock the account, and the lock survives a fresh app on the same database', async () => {
    const user = await createUser(server, { password: PASSWORD, totp: true });
    const browser = new Browser(server);
    await browser.enterCode((await createDeviceRequest(server, clientId)).shown);
    await browser.signIn(user.username);
    await browser.get('/device/mfa');
    const valid = totpCode(server);
    const wrong = (n: number) => String((Number(valid) + 1 + n) % 1_000_000).padStart(6, '0');
    expect((await browser.post('/device/mfa', { code: wrong(0) })).statusCode).toBe(401);
    expect((await browser.post('/device/mfa', { code: wrong(1) })).statusCode).toBe(401);
    const third = await browser.post('/device/mfa', { code: wrong(2) });
    expect(third.statusCode).toBe(403);
    expect(third.body).toContain('This account is locked');
    // Even the right code is refused now.
    expect((await browser.post('/device/mfa', { code: valid })).statusCode).toBe(403);
    const row = await userRow(server, user.id);
    expect(row.failed_mfa).toBe(3);
    expect(Number(row.locked_until)).toBe(server.clock.now + 60_000);

    const restarted = await createPagesServer(dialect, {
      clock: server.clock,
      database: server.database,
      config: { maxFailedSignIns: 3 },
    });
    try {
      const fresh = new Browser(restarted);
      const res = await fresh.signIn(user.username);
      expect(res.statusCode).toBe(401);
      expect(res.body).toContain('Wrong username or password.');
    } finally {
      await restarted.close();
    }
  });
});
