import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/crypto/passwords.js';
import { decideDeviceCode, findDeviceCodeByUserCode } from '../../src/device/device_store.js';
import { normaliseUserCode } from '../../src/device/user_code.js';
import { dialects } from '../support/dialects.js';
import { createTestServer, ISSUER, post, type TestServer } from '../support/test_server.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe.each(dialects)('device flow happy path (%s)', (dialect) => {
  let server: TestServer;
  let clientId: string;
  const userId = 'usr_test_person';

  beforeAll(async () => {
    server = await createTestServer(dialect);
    const { client } = await server.createClient({ kind: 'public', scopes: ['openid', 'read'] });
    clientId = client.id;
    await server.services.db
      .insertInto('users')
      .values({
        id: userId,
        username: 'ada',
        password_hash: await hashPassword('correct horse battery staple'),
        is_admin: 0,
        must_change_password: 0,
        totp_secret: null,
        created_at: server.clock.now,
        disabled_at: null,
        locked_at: null,
        totp_last_step: null,
      })
      .execute();
  });
  afterAll(() => server.close());

  it('device authorization → pending → approved → tokens → refresh rotates → reuse revokes the family', async () => {
    const auth = await post(server, '/oauth/device_authorization', { client_id: clientId, scope: 'read' });
    expect(auth.statusCode).toBe(200);
    const body = auth.json();
    expect(body).toEqual({
      device_code: expect.any(String),
      user_code: expect.stringMatching(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/),
      verification_uri: `${ISSUER}/device`,
      verification_uri_complete: `${ISSUER}/device?user_code=${body.user_code}`,
      expires_in: 600,
      interval: 5,
    });

    const poll = () =>
      post(server, '/oauth/token', {
        grant_type: DEVICE_GRANT,
        device_code: body.device_code,
        client_id: clientId,
      });
    const pending = await poll();
    expect(pending.statusCode).toBe(400);
    expect(pending.json().error).toBe('authorization_pending');
    const tooFast = await poll();
    expect(tooFast.json().error).toBe('slow_down');

    const row = await findDeviceCodeByUserCode(server.services.db, normaliseUserCode(body.user_code) ?? '');
    if (!row) throw new Error('no row');
    await server.services.db
      .updateTable('device_codes')
      .set({ claimed_by_session: 'sess_1' })
      .where('id', '=', row.id)
      .execute();
    expect(
      await decideDeviceCode(server.services.db, {
        id: row.id,
        sessionId: 'sess_1',
        userId,
        approve: true,
        now: server.clock.now,
      }),
    ).toBe(true);

    const tokens = await poll();
    expect(tokens.statusCode).toBe(200);
    const t = tokens.json();
    expect(t).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 600,
      refresh_token: expect.stringMatching(/^clvr_/),
      scope: 'read',
    });

    const refreshed = await post(server, '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: t.refresh_token,
      client_id: clientId,
    });
    expect(refreshed.statusCode).toBe(200);
    const r = refreshed.json();
    expect(r.refresh_token).not.toBe(t.refresh_token);

    const reused = await post(server, '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: t.refresh_token,
      client_id: clientId,
    });
    expect(reused.statusCode).toBe(400);
    expect(reused.json().error).toBe('invalid_grant');
    const afterTheft = await post(server, '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: r.refresh_token,
      client_id: clientId,
    });
    expect(afterTheft.json().error).toBe('invalid_grant');
  });
});
