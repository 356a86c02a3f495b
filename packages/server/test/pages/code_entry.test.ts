/** POST /device: bad input, guessing budgets (per IP and global, across instances), and claiming. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  deviceCodeRow,
  type PagesServer,
} from './support.js';

/** A syntactically valid code that is not `real`. */
function wrongCode(real: string, n: number): string {
  const alphabet = 'BCDFGHJKLMNPQRSTVWXZ';
  let out = '';
  for (let i = 0; i < 8; i++) out += alphabet[(n * 7 + i * 3) % 20];
  return out === real ? wrongCode(real, n + 1) : out;
}

describe.each(dialects)('code entry (%s)', (dialect) => {
  let server: PagesServer;
  let clientId: string;
  beforeEach(async () => {
    server = await createPagesServer(dialect);
    clientId = await createDeviceClient(server);
  });
  afterEach(async () => {
    await server.close();
  });

  it('DF-14: a POST without or with a wrong CSRF token is a 403 page; the code stays pending and unclaimed', async () => {
    const req = await createDeviceRequest(server, clientId);
    const browser = new Browser(server);
    await browser.get('/device');
    for (const csrf of [null, 'x'.repeat(43)]) {
      const res = await browser.post('/device', { user_code: req.shown }, csrf);
      expect(res.statusCode).toBe(403);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.body).toContain('This form was not sent from this site, or your session has expired.');
    }
    const row = await deviceCodeRow(server, req.id);
    expect(row.status).toBe('pending');
    expect(row.claimed_by_session).toBeNull();
  });

  it('DF-14: a tampered session cookie counts as no session: a new one is issued, and its POST fails CSRF', async () => {
    const req = await createDeviceRequest(server, clientId);
    const browser = new Browser(server);
    await browser.get('/device');
    const original = browser.cookie ?? '';
    const [name, value] = original.split('=');
    const [id, sig] = (value ?? '').split('.');
    browser.cookie = `${name}=${id}X.${sig}`;
    const page = await browser.get('/device');
    expect(page.statusCode).toBe(200);
    expect(page.headers['set-cookie']).toBeDefined();
    expect(browser.cookie).not.toBe(original);

    browser.cookie = `${name}=${id}X.${sig}`;
    const res = await browser.post('/device', { user_code: req.shown });
    expect(res.statusCode).toBe(403);
    expect((await deviceCodeRow(server, req.id)).claimed_by_session).toBeNull();
  });

  it('DF-15: <script> in user_code is escaped, never executed; it is "not a valid code"', async () => {
    const browser = new Browser(server);
    const shown = await browser.get(`/device?user_code=${encodeURIComponent('<script>alert(1)</script>')}`);
    expect(shown.statusCode).toBe(200);
    expect(shown.body).not.toContain('<script>');
    expect(shown.body).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');

    const posted = await browser.post('/device', { user_code: '"><script>alert(1)</script>' });
    expect(posted.statusCode).toBe(400);
    expect(posted.body).not.toContain('<script>');
    expect(posted.body).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(posted.body).toContain('That is not a valid code.');
  });

  it('DF-15: lower case, dashes and spaces are normalised; characters outside the alphabet are rejected, not stripped', async () => {
    const req = await createDeviceRequest(server, clientId);
    const browser = new Browser(server);
    await browser.get('/device');
    // One vowel in the code: rejected, and the code is not claimed by a stripped form of it.
    const withVowel = await browser.post('/device', { user_code: `${req.shown.slice(0, 8)}A` });
    expect(withVowel.statusCode).toBe(400);
    expect(withVowel.body).toContain('That is not a valid code.');
    const digits = await browser.post('/device', {
      user_code: `${req.shown.slice(0, 4)}-${req.shown.slice(5, 8)}1`,
    });
    expect(digits.statusCode).toBe(400);
    expect((await deviceCodeRow(server, req.id)).claimed_by_session).toBeNull();

    const typed = `${req.userCode.slice(0, 4).toLowerCase()} - ${req.userCode.slice(4).toLowerCase()}`;
    const ok = await browser.post('/device', { user_code: typed });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/device/login');
    expect((await deviceCodeRow(server, req.id)).claimed_by_session).not.toBeNull();
  });

  it('an unknown, an expired and an already decided code each get a 400 page', async () => {
    const browser = new Browser(server);
    await browser.get('/device');
    const unknown = await browser.post('/device', { user_code: 'BCDF-GHJK' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain('That code is not valid');

    const expired = await createDeviceRequest(server, clientId);
    server.clock.advanceSeconds(server.config.deviceCodeTtlSeconds);
    const late = await browser.post('/device', { user_code: expired.shown });
    expect(late.statusCode).toBe(400);
    expect((await deviceCodeRow(server, expired.id)).claimed_by_session).toBeNull();

    server.clock.advanceSeconds(60);
    const decided = await createDeviceRequest(server, clientId);
    await server.services.db
      .updateTable('device_codes')
      .set({ status: 'denied' })
      .where('id', '=', decided.id)
      .execute();
    const res = await browser.post('/device', { user_code: decided.shown });
    expect(res.statusCode).toBe(400);
  });

  it('an oversized user_code is a 400 page, and an oversized body a 413 page, never JSON', async () => {
    const browser = new Browser(server);
    await browser.get('/device');
    const long = await browser.post('/device', { user_code: 'B'.repeat(10_000) });
    expect(long.statusCode).toBe(400);
    expect(long.headers['content-type']).toBe('text/html; charset=utf-8');
    const huge = await browser.post('/device', { user_code: 'B'.repeat(100_000) });
    expect(huge.statusCode).toBe(413);
    expect(huge.headers['content-type']).toBe('text/html; charset=utf-8');
    const repeated = await server.app.inject({
      method: 'POST',
      url: '/device',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: browser.cookie ?? '' },
      payload: `user_code=a&user_code=b&csrf=${browser.csrf}`,
    });
    expect(repeated.statusCode).toBe(400);
    expect(repeated.headers['content-type']).toBe('text/html; charset=utf-8');
    const json = await server.app.inject({
      method: 'POST',
      url: '/device',
      headers: { 'content-type': 'application/json', cookie: browser.cookie ?? '' },
      payload: '{}',
    });
    expect(json.statusCode).toBe(400);
    expect(json.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('DF-10: the 6th wrong code in a minute from one IP gets a 429 page with Retry-After; the victim code stays valid', async () => {
    const victim = await createDeviceRequest(server, clientId);
    const attacker = new Browser(server, '192.0.2.66');
    await attacker.get('/device');
    for (let i = 0; i < 5; i++) {
      const res = await attacker.post('/device', { user_code: wrongCode(victim.userCode, i) });
      expect(res.statusCode).toBe(400);
    }
    const sixth = await attacker.post('/device', { user_code: wrongCode(victim.userCode, 5) });
    expect(sixth.statusCode).toBe(429);
    expect(sixth.headers['retry-after']).toBe('60');
    expect(sixth.body).toContain('Too many wrong attempts.');
    // Even the right code is refused from that IP now, and so not claimed by the attacker.
    const right = await attacker.post('/device', { user_code: victim.shown });
    expect(right.statusCode).toBe(429);
    expect((await deviceCodeRow(server, victim.id)).claimed_by_session).toBeNull();

    // The victim, elsewhere, is unaffected.
    const owner = new Browser(server, '198.51.100.23');
    const ok = await owner.enterCode(victim.shown);
    expect(ok.statusCode).toBe(303);

    // The budget comes back with the next window.
    server.clock.advanceSeconds(60);
    const later = await attacker.post('/device', { user_code: wrongCode(victim.userCode, 7) });
    expect(later.statusCode).toBe(400);
  });

  it('DF-11: a second browser submitting a code another session claimed gets a 403 page; the claim stays', async () => {
    const req = await createDeviceRequest(server, clientId);
    const owner = new Browser(server);
    expect((await owner.enterCode(req.shown)).statusCode).toBe(303);
    const claimedBy = (await deviceCodeRow(server, req.id)).claimed_by_session;

    const other = new Browser(server, '192.0.2.99');
    const res = await other.enterCode(req.shown);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('This code is already being used in another browser.');
    expect((await deviceCodeRow(server, req.id)).claimed_by_session).toBe(claimedBy);
    // Entering it again in the owner's browser is fine.
    expect((await owner.post('/device', { user_code: req.shown })).statusCode).toBe(303);
  });

  it('R-07: wrong codes over two instances on one database share one per-IP and one global budget', async () => {
    const second = await createPagesServer(dialect, { clock: server.clock, database: server.database });
    try {
      const victim = await createDeviceRequest(server, clientId);
      const a = new Browser(server, '192.0.2.1');
      const b = new Browser(second, '192.0.2.1');
      await a.get('/device');
      await b.get('/device');
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const browser = i % 2 === 0 ? a : b;
        statuses.push(
          (await browser.post('/device', { user_code: wrongCode(victim.userCode, i) })).statusCode,
        );
      }
      expect(statuses).toEqual([400, 400, 400, 400, 400, 429, 429, 429]);

      // Parallel guesses from many IPs across both instances: never more than the global budget.
      const limited = await createPagesServer(dialect, {
        clock: server.clock,
        database: server.database,
        config: { userCodeAttemptsGlobalPerMinute: 7 },
      });
      const limited2 = await createPagesServer(dialect, {
        clock: server.clock,
        database: server.database,
        config: { userCodeAttemptsGlobalPerMinute: 7 },
      });
      try {
        server.clock.advanceSeconds(60);
        const browsers = Array.from(
          { length: 12 },
          (_, i) => new Browser(i % 2 ? limited : limited2, `192.0.2.${100 + i}`),
        );
        await Promise.all(browsers.map((br) => br.get('/device')));
        const results = await Promise.all(
          browsers.map((br, i) => br.post('/device', { user_code: wrongCode(victim.userCode, 20 + i) })),
        );
        const counts = results.map((r) => r.statusCode).sort();
        expect(counts.filter((s) => s === 400)).toHaveLength(7);
        expect(counts.filter((s) => s === 429)).toHaveLength(5);
      } finally {
        await limited.close();
        await limited2.close();
      }
    } finally {
      await second.close();
    }
  });
});
