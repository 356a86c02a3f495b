/**
 * A person signed in with a one-time password (the bootstrap admin's) must choose their own before
 * anything else: the flow routes them to /device/password, and consent is refused until they have.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createUser, PASSWORD, userRow } from '../../../../test/support/users.js';
import { verifyPassword } from '../../src/crypto/passwords.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  type PagesServer,
} from './support.js';

describe.each(dialects)('one-time password (%s)', (dialect) => {
  let server: PagesServer;
  let clientId: string;
  beforeEach(async () => {
    server = await createPagesServer(dialect);
    clientId = await createDeviceClient(server);
  });
  afterEach(async () => {
    await server.close();
  });

  async function oneTimeUser() {
    const user = await createUser(server, { password: PASSWORD });
    await server.services.db
      .updateTable('users')
      .set({ must_change_password: 1 })
      .where('id', '=', user.id)
      .execute();
    return user;
  }

  it('after sign-in the person chooses a new password; bad choices are refused; then consent', async () => {
    const user = await oneTimeUser();
    const request = await createDeviceRequest(server, clientId);
    const browser = new Browser(server);
    expect((await browser.enterCode(request.shown)).statusCode).toBe(303);
    const signedIn = await browser.signIn(user.username);
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers.location).toBe('/device/password');

    const form = await browser.get('/device/password');
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('<label for="new_password">New password</label>');
    expect(form.body).toContain('<label for="confirm_password">Confirm new password</label>');

    // Consent is not reachable yet, whatever is posted.
    const early = await browser.get('/device/consent');
    expect(early.statusCode).toBe(303);
    expect(early.headers.location).toBe('/device/password');

    await browser.get('/device/password');
    const short = await browser.post('/device/password', {
      new_password: 'short',
      confirm_password: 'short',
    });
    expect(short.statusCode).toBe(400);
    expect(short.body).toContain('Use at least 12 characters.');
    const differ = await browser.post('/device/password', {
      new_password: 'a brand new passphrase',
      confirm_password: 'a different passphrase',
    });
    expect(differ.statusCode).toBe(400);
    expect(differ.body).toContain('The two passwords differ.');
    const same = await browser.post('/device/password', {
      new_password: PASSWORD,
      confirm_password: PASSWORD,
    });
    expect(same.statusCode).toBe(400);
    expect((await userRow(server, user.id)).must_change_password).toBe(1);

    const changed = await browser.post('/device/password', {
      new_password: 'a brand new passphrase',
      confirm_password: 'a brand new passphrase',
    });
    expect(changed.statusCode).toBe(303);
    expect(changed.headers.location).toBe('/device/consent');
    const row = await userRow(server, user.id);
    expect(row.must_change_password).toBe(0);
    expect(await verifyPassword('a brand new passphrase', row.password_hash ?? '')).toBe(true);
    expect((await browser.get('/device/consent')).statusCode).toBe(200);

    await server.services.audit.drain();
    const audit = await server.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'user.password_change')
      .execute();
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain('a brand new passphrase');
  });

  it('without the CSRF token the change is refused and nothing changes', async () => {
    const user = await oneTimeUser();
    const browser = new Browser(server);
    await browser.signIn(user.username);
    const res = await browser.post(
      '/device/password',
      { new_password: 'a brand new passphrase', confirm_password: 'a brand new passphrase' },
      null,
    );
    expect(res.statusCode).toBe(403);
    expect((await userRow(server, user.id)).must_change_password).toBe(1);
  });

  it('a person without a one-time password is sent on, not shown the form', async () => {
    const user = await createUser(server, { password: PASSWORD });
    const browser = new Browser(server);
    await browser.signIn(user.username);
    const res = await browser.get('/device/password');
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).not.toBe('/device/password');
  });
});
