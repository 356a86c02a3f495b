/**
 * The verification pages end to end, in-process: code → sign in → (second factor) → consent → done,
 * checking what each page shows and what the database holds afterwards.
 */

import { Secret, TOTP } from 'otpauth';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createUser, PASSWORD, userRow } from '../../../../test/support/users.js';
import { openTotpSecret } from '../../src/users/totp_secret.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  deviceCodeRow,
  type PagesServer,
  totpCode,
} from './support.js';

const CSP =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

describe.each(dialects)('device pages flow (%s)', (dialect) => {
  let server: PagesServer;
  beforeEach(async () => {
    server = await createPagesServer(dialect);
  });
  afterEach(async () => {
    await server.close();
  });

  it('code → sign in → consent → approve: the request is approved for that person', async () => {
    const clientId = await createDeviceClient(server, { name: 'Acme CLI' });
    const user = await createUser(server, { password: PASSWORD });
    const req = await createDeviceRequest(server, clientId, { scopes: ['read', 'write'] });
    const browser = new Browser(server);

    // verification_uri_complete, typed in lower case: pre-filled in canonical form, nothing decided.
    const entry = await browser.get(`/device?user_code=${req.shown.toLowerCase()}`);
    expect(entry.statusCode).toBe(200);
    expect(entry.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(entry.headers['content-security-policy']).toBe(CSP);
    expect(entry.headers['cache-control']).toBe('no-store');
    expect(entry.headers['x-frame-options']).toBe('DENY');
    expect(entry.headers['set-cookie']).toMatch(
      /^__Host-clavis_device=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+; Path=\/; Max-Age=900; HttpOnly; SameSite=Lax; Secure$/,
    );
    // The issuer is https: browsers are told to use nothing else.
    expect(entry.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(entry.body).toContain('<label for="user_code">Code</label>');
    expect(entry.body).toContain(`value="${req.shown}"`);
    expect(entry.body).toContain('<button type="submit">Continue</button>');
    expect(entry.body).toContain('<link rel="stylesheet" href="/device/style.css">');
    expect(entry.body).not.toContain('<script');
    expect((await deviceCodeRow(server, req.id)).claimed_by_session).toBeNull();

    const entered = await browser.post('/device', { user_code: req.shown });
    expect(entered.statusCode).toBe(303);
    expect(entered.headers.location).toBe('/device/login');
    const anonymousCookie = browser.cookie;
    const claimedBy = (await deviceCodeRow(server, req.id)).claimed_by_session;
    expect(claimedBy).not.toBeNull();

    const login = await browser.get('/device/login');
    expect(login.body).toContain('<label for="username">Username</label>');
    expect(login.body).toContain('<label for="password">Password</label>');
    const signedIn = await browser.post('/device/login', {
      username: user.username,
      password: 'correct horse battery staple',
    });
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers.location).toBe('/device/consent');
    // A new session id (no fixation), and the claim moved with it.
    expect(browser.cookie).not.toBe(anonymousCookie);
    const moved = (await deviceCodeRow(server, req.id)).claimed_by_session;
    expect(moved).not.toBeNull();
    expect(moved).not.toBe(claimedBy);
    expect(
      await server.services.db
        .selectFrom('sessions')
        .select('id')
        .where('id', '=', claimedBy ?? '')
        .execute(),
    ).toEqual([]);

    const consent = await browser.get('/device/consent');
    expect(consent.statusCode).toBe(200);
    expect(consent.headers['content-security-policy']).toBe(CSP);
    expect(consent.body).toContain('<strong>Acme CLI</strong>');
    expect(consent.body).toContain('<li><code>read</code></li><li><code>write</code></li>');
    expect(consent.body).toContain(new Date(server.clock.now).toISOString());
    expect(consent.body).toContain('198.51.100.23');
    expect(consent.body).toContain('acme-cli/1.2 (linux)');
    expect(consent.body).toContain(req.shown);
    expect(consent.body).toContain(
      'Only approve this if you started this sign-in yourself and your own terminal shows this code',
    );
    expect(consent.body).toContain('<button type="submit" name="action" value="approve">Approve</button>');
    expect(consent.body).toContain('name="action" value="deny" class="secondary">Deny</button>');

    const approved = await browser.post('/device/consent', { request: req.id, action: 'approve' });
    expect(approved.statusCode).toBe(303);
    expect(approved.headers.location).toBe('/device/done?outcome=approved');
    const row = await deviceCodeRow(server, req.id);
    expect(row.status).toBe('approved');
    expect(row.user_id).toBe(user.id);
    expect(row.decided_at).toBe(server.clock.now);

    const done = await browser.get('/device/done?outcome=approved');
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('You can return to your terminal.');

    await server.services.audit.record({ event: 'server.bootstrap', actor: { type: 'system' } }); // flush
    const events = await server.services.db
      .selectFrom('audit_events')
      .select(['event', 'outcome', 'actor_id', 'client_id', 'ip', 'user_agent'])
      .where('event', 'in', ['device.code_entered', 'user.sign_in', 'device.approve'])
      .orderBy('at')
      .orderBy('seq')
      .execute();
    expect(events).toEqual([
      {
        event: 'device.code_entered',
        outcome: 'success',
        actor_id: null,
        client_id: clientId,
        ip: '203.0.113.10',
        user_agent: 'Mozilla/5.0 (test browser)',
      },
      {
        event: 'user.sign_in',
        outcome: 'success',
        actor_id: user.id,
        client_id: null,
        ip: '203.0.113.10',
        user_agent: 'Mozilla/5.0 (test browser)',
      },
      {
        event: 'device.approve',
        outcome: 'success',
        actor_id: user.id,
        client_id: clientId,
        ip: '203.0.113.10',
        user_agent: 'Mozilla/5.0 (test browser)',
      },
    ]);
  });

  it('a user with TOTP passes it before consent; the session records it', async () => {
    const clientId = await createDeviceClient(server);
    const user = await createUser(server, { password: PASSWORD, totp: true });
    const req = await createDeviceRequest(server, clientId);
    const browser = new Browser(server);
    await browser.enterCode(req.shown);
    const signedIn = await browser.signIn(user.username);
    expect(signedIn.headers.location).toBe('/device/mfa');

    // Consent before the second factor is not reachable.
    expect((await browser.get('/device/consent')).headers.location).toBe('/device/mfa');

    const mfa = await browser.get('/device/mfa');
    expect(mfa.statusCode).toBe(200);
    expect(mfa.body).toContain('<label for="code">Authentication code</label>');
    const passed = await browser.post('/device/mfa', { code: totpCode(server) });
    expect(passed.statusCode).toBe(303);
    expect(passed.headers.location).toBe('/device/consent');

    const consent = await browser.get('/device/consent');
    expect(consent.statusCode).toBe(200);
    const approved = await browser.post('/device/consent', { request: req.id, action: 'approve' });
    expect(approved.headers.location).toBe('/device/done?outcome=approved');
    const row = await deviceCodeRow(server, req.id);
    expect(row.status).toBe('approved');
    // The approval keeps how the person signed in, for the ID token: a password and a one-time code.
    expect({ auth_time: Number(row.auth_time), amr: JSON.parse(row.amr ?? 'null') }).toEqual({
      auth_time: server.clock.now,
      amr: ['pwd', 'otp', 'mfa'],
    });
  });

  it('a client that requires MFA makes a user without TOTP enrol, then shows ten recovery codes once', async () => {
    const clientId = await createDeviceClient(server, { requireMfa: true });
    const user = await createUser(server, { password: PASSWORD });
    const req = await createDeviceRequest(server, clientId);
    const browser = new Browser(server);
    await browser.enterCode(req.shown);
    const signedIn = await browser.signIn(user.username);
    expect(signedIn.headers.location).toBe('/device/mfa/setup');

    // Approving without the second factor is impossible: back to enrolment, code still pending.
    expect((await browser.get('/device/consent')).headers.location).toBe('/device/mfa/setup');
    await browser.get('/device/mfa/setup'); // a page of the new session, for its CSRF token
    const consentRequest = await browser.post('/device/consent', { request: req.id, action: 'approve' });
    expect(consentRequest.statusCode).toBe(303);
    expect(consentRequest.headers.location).toBe('/device/mfa/setup');
    expect((await deviceCodeRow(server, req.id)).status).toBe('pending');

    const setup = await browser.get('/device/mfa/setup');
    expect(setup.statusCode).toBe(200);
    const secret = /<dt>Key<\/dt><dd><code>([A-Z2-7]+)<\/code>/.exec(setup.body)?.[1] ?? '';
    expect(secret).toHaveLength(32);
    expect(setup.body).toContain(`otpauth://totp/Clavis:${user.username}?`);
    expect(setup.body).toContain('<label for="code">Authentication code</label>');
    const enrolment = /name="enrolment" value="([^"]+)"/.exec(setup.body)?.[1] ?? '';

    // A tampered enrolment (another secret) is refused.
    const forged = await browser.post('/device/mfa/setup', {
      enrolment: `AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.${enrolment.split('.')[1]}`,
      code: new TOTP({ secret: Secret.fromBase32('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA') }).generate({
        timestamp: server.clock.now,
      }),
    });
    expect(forged.statusCode).toBe(400);
    expect((await userRow(server, user.id)).totp_secret).toBeNull();

    const wrong = await browser.post('/device/mfa/setup', {
      enrolment,
      code: '000000' === totpCode(server, secret) ? '111111' : '000000',
    });
    expect(wrong.statusCode).toBe(401);

    const enrolled = await browser.post('/device/mfa/setup', { enrolment, code: totpCode(server, secret) });
    expect(enrolled.statusCode).toBe(200);
    const codes = [...enrolled.body.matchAll(/<li>([a-z2-9]{5}-[a-z2-9]{5})<\/li>/g)].map((m) => m[1]);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const stored = await userRow(server, user.id);
    // Sealed under the KEK at rest; it opens to the secret the page showed.
    expect(stored.totp_secret).not.toContain(secret);
    expect(openTotpSecret(server.services.totpKey, user.id, stored.totp_secret ?? '')).toBe(secret);
    const hashes = await server.services.db
      .selectFrom('recovery_codes')
      .select(['hash', 'used_at'])
      .where('user_id', '=', user.id)
      .execute();
    expect(hashes).toHaveLength(10);
    for (const h of hashes) expect(codes).not.toContain(h.hash);

    expect((await browser.get('/device/consent')).statusCode).toBe(200);
    const approved = await browser.post('/device/consent', { request: req.id, action: 'approve' });
    expect(approved.headers.location).toBe('/device/done?outcome=approved');
    expect((await deviceCodeRow(server, req.id)).status).toBe('approved');
  });

  it('a recovery code stands in for the authentication code, once', async () => {
    const clientId = await createDeviceClient(server, { requireMfa: true });
    const user = await createUser(server, { password: PASSWORD });
    const first = await createDeviceRequest(server, clientId);
    const enrolling = new Browser(server);
    await enrolling.enterCode(first.shown);
    await enrolling.signIn(user.username);
    const setup = await enrolling.get('/device/mfa/setup');
    const secret = /<dt>Key<\/dt><dd><code>([A-Z2-7]+)<\/code>/.exec(setup.body)?.[1] ?? '';
    const enrolment = /name="enrolment" value="([^"]+)"/.exec(setup.body)?.[1] ?? '';
    const enrolled = await enrolling.post('/device/mfa/setup', { enrolment, code: totpCode(server, secret) });
    const code = /<li>([a-z2-9]{5}-[a-z2-9]{5})<\/li>/.exec(enrolled.body)?.[1] ?? '';

    const second = await createDeviceRequest(server, clientId);
    const a = new Browser(server);
    await a.enterCode(second.shown);
    expect((await a.signIn(user.username)).headers.location).toBe('/device/mfa');
    await a.get('/device/mfa');
    const used = await a.post('/device/mfa', { code: code.toUpperCase().replace('-', ' ') });
    expect(used.statusCode).toBe(303);
    expect(used.headers.location).toBe('/device/consent');

    const third = await createDeviceRequest(server, clientId);
    const b = new Browser(server);
    await b.enterCode(third.shown);
    await b.signIn(user.username);
    await b.get('/device/mfa');
    const again = await b.post('/device/mfa', { code });
    expect(again.statusCode).toBe(401);
    expect(again.body).toContain('That code is not valid, or was already used.');
    expect((await b.get('/device/consent')).headers.location).toBe('/device/mfa');
  });

  it('serves its stylesheet as CSS', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/device/style.css' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(res.body).toContain('main{');
  });
});
