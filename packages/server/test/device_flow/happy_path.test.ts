import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import { approve, poll, refresh, requestDeviceCode } from './support.js';

describe.each(dialects)('device flow happy path (%s)', (dialect) => {
  let server: TestServer;
  let clientId: string;
  let userId: string;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    const { client } = await server.createClient({ kind: 'public', scopes: ['openid', 'read'] });
    clientId = client.id;
    userId = (await createUser(server, { username: 'ada' })).id;
  });
  afterAll(() => server.close());

  it('device authorization → pending → approved → tokens → refresh rotates → reuse revokes the family', async () => {
    const body = await requestDeviceCode(server, clientId, 'read');
    expect(body).toEqual({
      device_code: expect.any(String),
      user_code: expect.stringMatching(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/),
      verification_uri: `${ISSUER}/device`,
      verification_uri_complete: `${ISSUER}/device?user_code=${body.user_code}`,
      expires_in: 600,
      interval: 5,
    });

    const pending = await poll(server, clientId, body.device_code);
    expect(pending.statusCode).toBe(400);
    expect(pending.json().error).toBe('authorization_pending');
    const tooFast = await poll(server, clientId, body.device_code);
    expect(tooFast.json().error).toBe('slow_down');

    expect(await approve(server, body.user_code, userId)).toBe(true);

    const tokens = await poll(server, clientId, body.device_code);
    expect(tokens.statusCode).toBe(200);
    const t = tokens.json();
    expect(t).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 600,
      refresh_token: expect.stringMatching(/^clvr_/),
      scope: 'read',
    });

    const refreshed = await refresh(server, clientId, t.refresh_token);
    expect(refreshed.statusCode).toBe(200);
    const r = refreshed.json();
    expect(r.refresh_token).not.toBe(t.refresh_token);

    const reused = await refresh(server, clientId, t.refresh_token);
    expect(reused.statusCode).toBe(400);
    expect(reused.json().error).toBe('invalid_grant');
    const afterTheft = await refresh(server, clientId, r.refresh_token);
    expect(afterTheft.json().error).toBe('invalid_grant');
  });
});
