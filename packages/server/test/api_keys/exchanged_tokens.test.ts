/**
 * An access token exchanged from an API key lives no longer than the key: once the key is revoked (leak
 * report, administrator) or its owner disabled, introspection calls the token inactive — also when the
 * revocation was made by another instance or process sharing the database.
 */
import { adminApiKeys } from '@clavis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { ADMIN, type Caller, createKey, exchange, keyAdminDeps, registerCaller } from './support.js';

const INACTIVE = { active: false };

describe.each(dialects)('tokens exchanged from a revoked API key (%s)', (dialect) => {
  let a: TestServer;
  let b: TestServer;
  let rs: Caller;

  beforeAll(async () => {
    a = await createTestServer(dialect);
    b = await createTestServer(dialect, { database: a.database, clock: a.clock });
    rs = await registerCaller(a);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  /** A key of a fresh client whose tokens are for `rs`, and a token exchanged from it on instance a. */
  async function exchanged(): Promise<{ owner: Caller; id: string; key: string; token: string }> {
    const owner = await registerCaller(a, { scopes: ['read'], audiences: [rs.id] });
    const { id, key } = await createKey(a, { owner: owner.id });
    const res = await exchange(a, key);
    expect(res.statusCode, res.body).toBe(200);
    return { owner, id, key, token: res.json().access_token as string };
  }

  async function introspect(server: TestServer, token: string) {
    const res = await post(
      server,
      '/oauth/introspect',
      { token },
      { authorization: basic(rs.id, rs.secret) },
    );
    expect(res.statusCode).toBe(200);
    return res.json() as Record<string, unknown>;
  }

  it('a live key: its token is active', async () => {
    const { token } = await exchanged();
    expect(await introspect(a, token)).toMatchObject({ active: true, client_id: expect.any(String) });
  });

  it('a leak report on another instance: the token already exchanged is inactive at once', async () => {
    const { key, token } = await exchanged();
    expect((await introspect(a, token)).active).toBe(true);
    const report = await b.app.inject({
      method: 'POST',
      url: '/oauth/api-keys/leaks',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify([{ token: key, type: 'clavis_api_key', url: 'https://example.com/leak' }]),
    });
    expect(report.json()).toEqual({ reported: 1, revoked: 1 });
    expect(await introspect(a, token)).toEqual(INACTIVE);
    expect(await introspect(b, token)).toEqual(INACTIVE);
  });

  it('an administrator revokes the key from another process: the token is inactive', async () => {
    const { id, token } = await exchanged();
    expect((await introspect(a, token)).active).toBe(true);
    await adminApiKeys.revokeApiKey(keyAdminDeps(b), id, ADMIN);
    expect(await introspect(a, token)).toEqual(INACTIVE);
  });

  it("the key's owner disabled: the token is inactive", async () => {
    const { owner, token } = await exchanged();
    await b.services.db
      .updateTable('clients')
      .set({ disabled_at: b.clock.now })
      .where('id', '=', owner.id)
      .execute();
    expect(await introspect(a, token)).toEqual(INACTIVE);
  });
});
