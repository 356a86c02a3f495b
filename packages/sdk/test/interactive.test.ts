/**
 * At an interactive terminal with no other credential, `getToken()` runs the device flow itself and
 * shows the code (on stderr by default, through `warn`); `whoami()` and `getToken({ login: false })`
 * never start one. In CI a terminal does not count.
 */
import { type ClientOptions, createClient, type DetectedContext, type Sleep } from '@clavis/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headless, type Scratch, scratch } from './support/env.js';
import { json, metadataFor, type StubServer, startStub } from './support/stub_server.js';

const terminal: DetectedContext = { ...headless, interactive: true };
const noWait: Sleep = async () => {};

describe('an interactive terminal', () => {
  let stub: StubServer;
  let s: Scratch;

  beforeAll(async () => {
    stub = await startStub();
    s = await scratch();
    stub.routes.set('/.well-known/oauth-authorization-server', json(200, metadataFor(stub.url)));
    stub.routes.set(
      '/oauth/device_authorization',
      json(200, {
        device_code: 'dc',
        user_code: 'BCDF-GHJK',
        verification_uri: `${stub.url}/device`,
        verification_uri_complete: `${stub.url}/device?user_code=BCDF-GHJK`,
        expires_in: 600,
        interval: 1,
      }),
    );
    stub.routes.set(
      '/oauth/token',
      json(200, {
        access_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c3JfMSJ9.',
        token_type: 'Bearer',
        expires_in: 600,
        refresh_token: 'clvr_1',
      }),
    );
  });
  afterAll(async () => {
    await stub?.close();
    await s?.cleanup();
  });

  const client = (options: Partial<ClientOptions>) =>
    createClient({ issuer: stub.url, clientId: 'cli', keychain: null, sleep: noWait, ...options });

  it('getToken runs the device flow, showing the code through warn', async () => {
    const other = await scratch();
    try {
      const lines: string[] = [];
      const token = await client({
        env: other.env,
        context: terminal,
        warn: (line) => lines.push(line),
      }).getToken();
      expect(token).toMatchObject({ source: 'login', store: 'file', principal: { sub: 'usr_1' } });
      expect(lines[0]).toContain(`${stub.url}/device?user_code=BCDF-GHJK`);
      expect(lines[0]).toContain('BCDF-GHJK');
    } finally {
      await other.cleanup();
    }
  });

  it('whoami and getToken({ login: false }) never start a login; nor does a terminal in CI', async () => {
    stub.requests.length = 0;
    const c = client({ env: s.env, context: terminal, warn: () => {} });
    await expect(c.whoami()).rejects.toMatchObject({ code: 'no_credentials' });
    await expect(c.getToken({ login: false })).rejects.toMatchObject({ code: 'no_credentials' });
    const inCi = client({ env: s.env, context: { ...terminal, ci: 'ci' }, warn: () => {} });
    await expect(inCi.getToken()).rejects.toMatchObject({ code: 'no_credentials' });
    expect(stub.requests).toEqual([]);
  });

  it('a refresh the server cannot answer keeps a not-yet-expired token; an expired one fails typed', async () => {
    const other = await scratch();
    const tokenRoute = stub.routes.get('/oauth/token');
    try {
      const login = await client({ env: other.env, context: headless, warn: () => {} }).login({
        onCode: () => {},
      });
      const expiresAt = login.expiresAt ?? 0;
      stub.routes.set(
        '/oauth/token',
        json(503, { error: 'temporarily_unavailable' }, { 'retry-after': '1' }),
      );
      const nearEnd = client({ env: other.env, context: headless, now: () => expiresAt - 30_000 });
      expect((await nearEnd.getToken()).accessToken).toBe(login.accessToken);
      const pastEnd = client({ env: other.env, context: headless, now: () => expiresAt + 1 });
      await expect(pastEnd.getToken()).rejects.toMatchObject({ code: 'temporarily_unavailable' });
      // A refused refresh token means the login is over: it is forgotten.
      stub.routes.set('/oauth/token', json(400, { error: 'invalid_grant' }));
      await expect(pastEnd.getToken()).rejects.toMatchObject({ code: 'not_logged_in' });
      await expect(pastEnd.getToken()).rejects.toMatchObject({ code: 'no_credentials' });
    } finally {
      if (tokenRoute) stub.routes.set('/oauth/token', tokenRoute);
      await other.cleanup();
    }
  });

  it('logout revokes at the revocation endpoint; if it cannot, it says so and still forgets the login', async () => {
    const other = await scratch();
    try {
      const warnings: string[] = [];
      const c = client({ env: other.env, context: headless, warn: (line) => warnings.push(line) });
      await c.login({ onCode: () => {} });
      stub.routes.set('/oauth/revoke', json(200, {}));
      stub.requests.length = 0;
      expect(await c.logout()).toEqual({ revoked: true, removed: true });
      const revoke = stub.requests.find((r) => r.path === '/oauth/revoke');
      expect(Object.fromEntries(revoke?.body ?? [])).toEqual({
        token: 'clvr_1',
        token_type_hint: 'refresh_token',
        client_id: 'cli',
      });
      expect(await c.logout()).toEqual({ revoked: false, removed: false });

      await c.login({ onCode: () => {} });
      stub.routes.set('/oauth/revoke', json(503, { error: 'temporarily_unavailable' }));
      expect(await c.logout()).toEqual({ revoked: false, removed: true });
      expect(warnings.at(-1)).toContain('could not be revoked');
      expect(warnings.join('\n')).not.toContain('clvr_1');
    } finally {
      stub.routes.delete('/oauth/revoke');
      await other.cleanup();
    }
  });
});
