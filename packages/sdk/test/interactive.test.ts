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
});
