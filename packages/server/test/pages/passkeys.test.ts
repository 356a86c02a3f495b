/**
 * Passkeys on the verification pages, in process, with a software authenticator: enrolment, the
 * assertion, and MF-03 — another origin, another RP ID, a replayed challenge, no user verification and
 * a counter that goes back are each refused and audited; the counter regression disables the passkey.
 * A client that requires a phishing-resistant factor is not satisfied by a TOTP code.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { ISSUER } from '../../../../test/support/test_server.js';
import { createUser, PASSWORD } from '../../../../test/support/users.js';
import { SoftwareAuthenticator, webauthnOptionsOf } from './software_authenticator.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  type DeviceRequest,
  deviceCodeRow,
  type PagesServer,
  totpCode,
} from './support.js';

const RP_ID = new URL(ISSUER).hostname;

describe.each(dialects)('passkeys on the pages (%s)', (dialect) => {
  let server: PagesServer;
  let clientId: string;
  let key: SoftwareAuthenticator;

  beforeEach(async () => {
    server = await createPagesServer(dialect);
    clientId = await createDeviceClient(server, { requireMfa: true });
    // A client that requires a phishing-resistant factor.
    await server.services.db
      .updateTable('clients')
      .set({ require_mfa: 2 })
      .where('id', '=', clientId)
      .execute();
    key = new SoftwareAuthenticator();
  });
  afterEach(async () => {
    await server.close();
  });

  /** A browser signed in as `username` with `request`'s code entered. */
  async function signedIn(username: string, request: DeviceRequest): Promise<Browser> {
    const browser = new Browser(server);
    await browser.enterCode(request.shown);
    await browser.signIn(username);
    return browser;
  }

  /** ada, with no second factor, enrols `key` as her first (the client leads her there). */
  async function enrolAda(): Promise<DeviceRequest & { codes: string[] }> {
    await createUser(server, { id: 'usr_ada', username: 'ada', password: PASSWORD });
    const request = await createDeviceRequest(server, clientId);
    const browser = await signedIn('ada', request);
    const page = await browser.get('/device/passkeys');
    expect(page.statusCode).toBe(200);
    const { challenge } = webauthnOptionsOf(page.body);
    const added = await browser.post('/device/passkeys', {
      name: 'YubiKey',
      response: key.register({ challenge, origin: ISSUER, rpId: RP_ID }),
    });
    expect(added.statusCode).toBe(200);
    expect(added.body).toContain('Save your recovery codes');
    const codes = [...added.body.matchAll(/<li>([a-z0-9]{5}-[a-z0-9]{5})<\/li>/g)].map((m) => m[1] ?? '');
    expect(codes).toHaveLength(10);
    return { ...request, codes };
  }

  /** A fresh sign-in of ada, on the second-factor page: its challenge. */
  async function atSecondFactor(): Promise<{ browser: Browser; challenge: string }> {
    const browser = await signedIn('ada', await createDeviceRequest(server, clientId));
    const page = await browser.get('/device/mfa');
    expect(page.statusCode).toBe(200);
    return { browser, challenge: webauthnOptionsOf(page.body).challenge };
  }

  const failures = async () =>
    (await auditRecords(server, 'user.mfa_failed')).map((r) => (r.detail as { reason?: string }).reason);

  it('a first passkey: stored without secrets in view, recovery codes with it, and the session may consent', async () => {
    const request = await enrolAda();
    const rows = await server.services.db.selectFrom('webauthn_credentials').selectAll().execute();
    expect(rows).toEqual([
      expect.objectContaining({
        id: key.id,
        user_id: 'usr_ada',
        name: 'YubiKey',
        device_type: 'singleDevice',
        transports: '["usb"]',
        disabled_at: null,
      }),
    ]);
    expect(Number(rows[0]?.counter)).toBe(0);
    const codes = await server.services.db
      .selectFrom('recovery_codes')
      .select('hash')
      .where('user_id', '=', 'usr_ada')
      .execute();
    expect(codes).toHaveLength(10);
    // The enrolment was user-verified and origin-bound: this session has passed a phishing-resistant factor.
    const browser = await signedIn('ada', await createDeviceRequest(server, clientId));
    expect((await browser.get('/device/continue')).headers.location).toBe('/device/mfa');
    expect((await deviceCodeRow(server, request.id)).status).toBe('pending');
  });

  it('a person renames and removes their own passkeys; never the last second factor; audited', async () => {
    await createUser(server, { id: 'usr_ada', username: 'ada', password: PASSWORD });
    const browser = await signedIn('ada', await createDeviceRequest(server, clientId));
    const register = async (authenticator: SoftwareAuthenticator, name: string) => {
      const { challenge } = webauthnOptionsOf((await browser.get('/device/passkeys')).body);
      const added = await browser.post('/device/passkeys', {
        name,
        response: authenticator.register({ challenge, origin: ISSUER, rpId: RP_ID }),
      });
      expect(added.statusCode).toBe(200);
    };
    const names = async () =>
      (
        await server.services.db
          .selectFrom('webauthn_credentials')
          .select(['id', 'name'])
          .where('user_id', '=', 'usr_ada')
          .orderBy('created_at')
          .orderBy('id')
          .execute()
      ).map((r) => [r.id, r.name]);
    // The first passkey passes this session's second factor.
    await register(key, 'YubiKey');
    expect((await browser.get('/device/passkeys')).body).toContain('action="/device/passkeys/remove"');

    // The only second factor stays.
    const last = await browser.post('/device/passkeys/remove', { id: key.id });
    expect(last.statusCode).toBe(409);
    expect(await names()).toEqual([[key.id, 'YubiKey']]);

    // Renamed; a name with a control character, an empty one, someone else's id are refused.
    await browser.get('/device/passkeys');
    expect(
      (await browser.post('/device/passkeys/rename', { id: key.id, name: ' Desk key ' })).statusCode,
    ).toBe(303);
    expect((await browser.post('/device/passkeys/rename', { id: key.id, name: 'a\u0007b' })).statusCode).toBe(
      400,
    );
    expect((await browser.post('/device/passkeys/rename', { id: key.id, name: '   ' })).statusCode).toBe(400);
    expect((await browser.post('/device/passkeys/rename', { id: 'nope', name: 'x' })).statusCode).toBe(404);
    expect(
      (await browser.post('/device/passkeys/rename', { id: key.id, name: 'x'.repeat(65) })).statusCode,
    ).toBe(400);
    // Without the form's CSRF token nothing happens.
    expect(
      (await browser.post('/device/passkeys/remove', { id: key.id }, null)).statusCode,
    ).toBeGreaterThanOrEqual(400);
    expect(await names()).toEqual([[key.id, 'Desk key']]);

    // With a second passkey, the first can go.
    const laptop = new SoftwareAuthenticator();
    await register(laptop, 'Laptop');
    const removed = await browser.post('/device/passkeys/remove', { id: key.id });
    expect(removed.statusCode).toBe(303);
    expect(removed.headers.location).toBe('/device/passkeys');
    expect(await names()).toEqual([[laptop.id, 'Laptop']]);
    expect((await browser.post('/device/passkeys/remove', { id: key.id })).statusCode).toBe(404);

    // A new session that has not passed its second factor is sent to it.
    const fresh = await signedIn('ada', await createDeviceRequest(server, clientId));
    await fresh.get('/device/mfa');
    const unpassed = await fresh.post('/device/passkeys/remove', { id: laptop.id });
    expect(unpassed.statusCode).toBe(303);
    expect(unpassed.headers.location).toBe('/device/mfa');
    expect(await names()).toEqual([[laptop.id, 'Laptop']]);

    const outcomes = async (event: string) =>
      (await auditRecords(server, event)).map((r) => [
        r.outcome,
        r.actor_id,
        (r.detail as { reason?: string }).reason,
      ]);
    expect(await outcomes('user.passkey_remove')).toEqual([
      ['failure', 'usr_ada', 'last_factor'],
      ['success', 'usr_ada', undefined],
      ['failure', 'usr_ada', 'not_found'],
    ]);
    expect(await outcomes('user.passkey_rename')).toEqual([
      ['success', 'usr_ada', undefined],
      ['failure', 'usr_ada', 'not_found'],
    ]);
  });

  it('an assertion passes the second factor; the approval records hwk and user', async () => {
    await enrolAda();
    const { browser, challenge } = await atSecondFactor();
    const passed = await browser.post('/device/mfa/passkey', {
      response: key.assert({ challenge, origin: ISSUER, rpId: RP_ID }),
    });
    expect(passed.statusCode).toBe(303);
    expect(passed.headers.location).toBe('/device/consent');
    const consent = await browser.get('/device/consent');
    const approved = await browser.post('/device/consent', {
      request: Browser.requestOf(consent) ?? '',
      action: 'approve',
    });
    expect(approved.headers.location).toBe('/device/done?outcome=approved');
    const row = await server.services.db
      .selectFrom('device_codes')
      .select('amr')
      .where('status', '=', 'approved')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.amr ?? '[]')).toEqual(['pwd', 'hwk', 'user', 'mfa']);
    const stored = await server.services.db
      .selectFrom('webauthn_credentials')
      .selectAll()
      .executeTakeFirstOrThrow();
    expect({ counter: Number(stored.counter), used: Number(stored.last_used_at) }).toEqual({
      counter: 1,
      used: server.clock.now,
    });
  });

  describe('MF-03: WebAuthn with a wrong RP ID or origin, a replayed challenge, a counter going back', () => {
    it('another origin is refused', async () => {
      await enrolAda();
      const { browser, challenge } = await atSecondFactor();
      const res = await browser.post('/device/mfa/passkey', {
        response: key.assert({ challenge, origin: 'https://as.clavis.test.evil.example', rpId: RP_ID }),
      });
      expect(res.statusCode).toBe(401);
      expect(await failures()).toEqual(['verification_failed']);
    });

    it('another RP ID is refused', async () => {
      await enrolAda();
      const { browser, challenge } = await atSecondFactor();
      const res = await browser.post('/device/mfa/passkey', {
        response: key.assert({ challenge, origin: ISSUER, rpId: 'clavis.test' }),
      });
      expect(res.statusCode).toBe(401);
      expect(await failures()).toEqual(['verification_failed']);
    });

    it('a replayed answer is refused: in the same session and in another one', async () => {
      await enrolAda();
      const { browser, challenge } = await atSecondFactor();
      const answer = key.assert({ challenge, origin: ISSUER, rpId: RP_ID });
      expect((await browser.post('/device/mfa/passkey', { response: answer })).statusCode).toBe(303);
      // The same answer again: its challenge was spent.
      expect((await browser.post('/device/mfa/passkey', { response: answer })).statusCode).toBe(401);
      // In another session, whose challenge is another one.
      const other = await atSecondFactor();
      expect((await other.browser.post('/device/mfa/passkey', { response: answer })).statusCode).toBe(401);
      expect(await failures()).toEqual(['challenge', 'challenge']);
    });

    it('a counter that went back: refused, the passkey disabled, a clone audited; recovery codes still work', async () => {
      const { codes } = await enrolAda();
      const first = await atSecondFactor();
      const ok = key.assert({ challenge: first.challenge, origin: ISSUER, rpId: RP_ID, signCount: 7 });
      expect((await first.browser.post('/device/mfa/passkey', { response: ok })).statusCode).toBe(303);

      const second = await atSecondFactor();
      const cloned = key.assert({ challenge: second.challenge, origin: ISSUER, rpId: RP_ID, signCount: 5 });
      const res = await second.browser.post('/device/mfa/passkey', { response: cloned });
      expect(res.statusCode).toBe(401);
      expect(res.body).toContain('looks copied to another device');
      const row = await server.services.db
        .selectFrom('webauthn_credentials')
        .selectAll()
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ disabled_reason: 'counter_regression' });
      expect(Number(row.counter)).toBe(7);
      const [clone] = await auditRecords(server, 'user.passkey_clone');
      expect(clone).toMatchObject({
        outcome: 'failure',
        actor_id: 'usr_ada',
        detail: { credential_id: key.id, stored_counter: 7, presented_counter: 5, disabled: true },
      });
      expect(await failures()).toEqual(['counter_regression']);

      // Disabled for good: not offered any more; ada is not free to enrol a new one without a factor;
      // a recovery code still works.
      const third = await signedIn('ada', await createDeviceRequest(server, clientId));
      const page = await third.get('/device/mfa');
      expect(page.statusCode).toBe(200);
      expect(page.body).not.toContain('data-webauthn');
      expect((await third.get('/device/passkeys')).headers.location).toBe('/device/mfa');
      const recovered = await third.post('/device/mfa', { code: codes[0] ?? '' });
      expect(recovered.statusCode).toBe(303);
      // Past the recovery code, the client still wants a passkey: she may now add a new one.
      expect(recovered.headers.location).toBe('/device/passkeys');
    });

    it('the same counter again (not growing) is refused as a clone too', async () => {
      await enrolAda();
      const first = await atSecondFactor();
      await first.browser.post('/device/mfa/passkey', {
        response: key.assert({ challenge: first.challenge, origin: ISSUER, rpId: RP_ID, signCount: 3 }),
      });
      const second = await atSecondFactor();
      const res = await second.browser.post('/device/mfa/passkey', {
        response: key.assert({ challenge: second.challenge, origin: ISSUER, rpId: RP_ID, signCount: 3 }),
      });
      expect(res.statusCode).toBe(401);
      expect(await failures()).toEqual(['counter_regression']);
    });
  });

  it('no user verification, a registration answer, garbage, an oversized answer: refused, nothing passed', async () => {
    await enrolAda();
    const { browser } = await atSecondFactor();
    const tries: Array<(c: string) => string> = [
      (c) => key.assert({ challenge: c, origin: ISSUER, rpId: RP_ID, userVerified: false }),
      (c) => key.assert({ challenge: c, origin: ISSUER, rpId: RP_ID, type: 'webauthn.create' }),
      () => '{"id":"x"}',
      () => 'not json',
    ];
    for (const answer of tries) {
      // Each try on a fresh challenge, so only the flaw under test is wrong.
      const page = await browser.get('/device/mfa');
      const fresh = webauthnOptionsOf(page.body).challenge;
      expect((await browser.post('/device/mfa/passkey', { response: answer(fresh) })).statusCode).toBe(401);
    }
    const big = await browser.post('/device/mfa/passkey', { response: 'x'.repeat(40_000) });
    expect(big.statusCode).toBe(400);
    expect(await auditRecords(server, 'user.mfa_passed')).toEqual([]);
    expect(await failures()).toEqual(['verification_failed', 'challenge', 'malformed', 'malformed']);
  });

  it('a client that requires a phishing-resistant factor: a TOTP code does not reach consent', async () => {
    await createUser(server, { id: 'usr_tom', username: 'tom', password: PASSWORD, totp: true });
    const request = await createDeviceRequest(server, clientId);
    const browser = await signedIn('tom', request);
    const mfa = await browser.get('/device/mfa');
    expect(mfa.body).toContain('requires a passkey or security key');
    const passed = await browser.post('/device/mfa', { code: totpCode(server) });
    expect(passed.headers.location).toBe('/device/passkeys');
    expect((await browser.get('/device/consent')).headers.location).toBe('/device/passkeys');
    const refused = await browser.post('/device/consent', { request: request.id, action: 'approve' });
    expect(refused.headers.location).toBe('/device/passkeys');
    expect((await deviceCodeRow(server, request.id)).status).toBe('pending');
  });

  it('a passkey already registered (to anyone) is not registered twice', async () => {
    await enrolAda();
    await createUser(server, { id: 'usr_bob', username: 'bob', password: PASSWORD });
    const browser = await signedIn('bob', await createDeviceRequest(server, clientId));
    const { challenge } = webauthnOptionsOf((await browser.get('/device/passkeys')).body);
    const again = await browser.post('/device/passkeys', {
      response: key.register({ challenge, origin: ISSUER, rpId: RP_ID }),
    });
    expect(again.statusCode).toBe(409);
    expect(await server.services.db.selectFrom('webauthn_credentials').select('user_id').execute()).toEqual([
      { user_id: 'usr_ada' },
    ]);
  });
});
