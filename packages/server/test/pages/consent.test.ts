/** POST /device/consent: only the claiming session decides, once, as a usable account. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createUser, PASSWORD } from '../../../../test/support/users.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  type DeviceRequest,
  deviceCodeRow,
  type PagesServer,
} from './support.js';

describe.each(dialects)('consent (%s)', (dialect) => {
  let server: PagesServer;
  let clientId: string;
  let user: { id: string; username: string };
  let req: DeviceRequest;
  let owner: Browser;
  beforeEach(async () => {
    server = await createPagesServer(dialect);
    clientId = await createDeviceClient(server);
    user = await createUser(server, { password: PASSWORD });
    req = await createDeviceRequest(server, clientId);
    owner = new Browser(server);
    await owner.enterCode(req.shown);
    await owner.signIn(user.username);
    expect((await owner.get('/device/consent')).statusCode).toBe(200);
  });
  afterEach(async () => {
    await server.close();
  });

  it('DF-07: a denial is final: browser back and Approve is refused (the session ended), the code stays denied', async () => {
    const denied = await owner.post('/device/consent', { request: req.id, action: 'deny' });
    expect(denied.statusCode).toBe(303);
    expect(denied.headers.location).toBe('/device/done?outcome=denied');
    expect((await owner.get('/device/done?outcome=denied')).body).toContain('Request denied');
    expect((await deviceCodeRow(server, req.id)).status).toBe('denied');

    // Deciding ended the session: the old form is refused before the decision is even looked at.
    const back = await owner.post('/device/consent', { request: req.id, action: 'approve' });
    expect(back.statusCode).toBe(403);
    expect(back.body).toContain('your session has expired');
    const row = await deviceCodeRow(server, req.id);
    expect(row.status).toBe('denied');
    // Entering the code again does not reopen it.
    await owner.get('/device');
    expect((await owner.post('/device', { user_code: req.shown })).statusCode).toBe(400);
  });

  it('an approval records when the person signed in and how (a password only), not when they approved', async () => {
    const signedInAt = server.clock.now;
    server.clock.advanceSeconds(30);
    await owner.get('/device/consent');
    const approved = await owner.post('/device/consent', { request: req.id, action: 'approve' });
    expect(approved.headers.location).toBe('/device/done?outcome=approved');
    const row = await deviceCodeRow(server, req.id);
    expect({ auth_time: Number(row.auth_time), amr: JSON.parse(row.amr ?? 'null') }).toEqual({
      auth_time: signedInAt,
      amr: ['pwd'],
    });
  });

  it('a denial records no authentication', async () => {
    await owner.post('/device/consent', { request: req.id, action: 'deny' });
    const row = await deviceCodeRow(server, req.id);
    expect([row.auth_time, row.amr]).toEqual([null, null]);
  });

  it('an expired request cannot be approved: 409 page', async () => {
    server.clock.advanceSeconds(server.config.deviceCodeTtlSeconds);
    const late = await owner.post('/device/consent', { request: req.id, action: 'approve' });
    expect(late.statusCode).toBe(409);
    expect((await deviceCodeRow(server, req.id)).status).toBe('pending');
  });

  it('DF-11: approving from a session that did not claim the code is a 403 page; the code stays pending', async () => {
    const other = new Browser(server, '192.0.2.50');
    const otherUser = await createUser(server, { password: PASSWORD });
    await other.signIn(otherUser.username);
    await other.get('/device');
    const res = await other.post('/device/consent', { request: req.id, action: 'approve' });
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('This code is being used in another browser.');
    const row = await deviceCodeRow(server, req.id);
    expect(row.status).toBe('pending');
    expect(row.user_id).toBeNull();
  });

  it('R-03: approve by the claimer ‖ deny by another session: the claimer wins, the other gets 403, both audited', async () => {
    const other = new Browser(server, '192.0.2.51');
    await other.get('/device');
    const [approve, deny] = await Promise.all([
      owner.post('/device/consent', { request: req.id, action: 'approve' }),
      other.post('/device/consent', { request: req.id, action: 'deny' }),
    ]);
    expect(approve.statusCode).toBe(303);
    expect(approve.headers.location).toBe('/device/done?outcome=approved');
    expect(deny.statusCode).toBe(403);
    const row = await deviceCodeRow(server, req.id);
    expect(row.status).toBe('approved');
    expect(row.user_id).toBe(user.id);

    await server.services.audit.record({ event: 'server.bootstrap', actor: { type: 'system' } }); // flush
    const events = await server.services.db
      .selectFrom('audit_events')
      .select(['event', 'outcome', 'ip'])
      .where('event', 'in', ['device.approve', 'device.deny'])
      .orderBy('event')
      .execute();
    expect(events).toEqual([
      { event: 'device.approve', outcome: 'success', ip: '203.0.113.10' },
      { event: 'device.deny', outcome: 'failure', ip: '192.0.2.51' },
    ]);
  });

  it('DF-13: an account locked or disabled after sign-in cannot approve; the code stays pending', async () => {
    await server.services.db
      .updateTable('users')
      .set({ locked_at: server.clock.now })
      .where('id', '=', user.id)
      .execute();
    const locked = await owner.post('/device/consent', { request: req.id, action: 'approve' });
    expect(locked.statusCode).toBe(403);
    expect(locked.body).toContain('This account is locked');
    expect((await owner.get('/device/consent')).statusCode).toBe(403);

    await server.services.db
      .updateTable('users')
      .set({ locked_at: null, disabled_at: server.clock.now })
      .where('id', '=', user.id)
      .execute();
    const disabled = await owner.post('/device/consent', { request: req.id, action: 'approve' });
    expect(disabled.statusCode).toBe(403);
    expect(disabled.body).toContain('This account is disabled');
    const row = await deviceCodeRow(server, req.id);
    expect(row.status).toBe('pending');
    expect(row.user_id).toBeNull();
  });

  it('DF-14: consent without the CSRF token is a 403 page and decides nothing', async () => {
    const res = await owner.post('/device/consent', { request: req.id, action: 'approve' }, null);
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect((await deviceCodeRow(server, req.id)).status).toBe('pending');
  });
});
