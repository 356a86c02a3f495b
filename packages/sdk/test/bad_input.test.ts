/**
 * What a broken or hostile server can send, and what the SDK makes of it: malformed discovery, error
 * JSON, oversized bodies (never read to the end), the device flow's slow_down, expiry, throttling and
 * cancellation — each a typed error, none a hang.
 */
import { InvalidScope, SlowDown } from '@clavis/core';
import { ClavisError, createClient, type Sleep } from '@clavis/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { headless, type Scratch, scratch } from './support/env.js';
import { json, metadataFor, type StubServer, startStub } from './support/stub_server.js';

const DISCOVERY = '/.well-known/oauth-authorization-server';

describe('bad input from the server', () => {
  let stub: StubServer;
  let s: Scratch;

  beforeAll(async () => {
    stub = await startStub();
    s = await scratch();
  });
  afterAll(async () => {
    await stub?.close();
    await s?.cleanup();
  });
  afterEach(() => {
    stub.routes.clear();
    stub.requests.length = 0;
  });

  const client = (options: Partial<Parameters<typeof createClient>[0]> = {}) =>
    createClient({
      issuer: stub.url,
      clientId: 'cli',
      env: s.env,
      context: headless,
      keychain: null,
      warn: () => {},
      ...options,
    });
  const apiKeyClient = (options: Partial<Parameters<typeof createClient>[0]> = {}) =>
    client({ env: { ...s.env, CLAVIS_API_KEY: 'clv_000000000000000000000000000000' }, ...options });

  describe('discovery', () => {
    const cases: Array<[string, () => void]> = [
      ['not JSON', () => stub.routes.set(DISCOVERY, json(200, '<html>hello</html>'))],
      ['a JSON array', () => stub.routes.set(DISCOVERY, json(200, []))],
      [
        'another issuer',
        () =>
          stub.routes.set(
            DISCOVERY,
            json(200, { ...metadataFor(stub.url), issuer: 'https://evil.example.com' }),
          ),
      ],
      [
        'no token endpoint',
        () => stub.routes.set(DISCOVERY, json(200, { ...metadataFor(stub.url), token_endpoint: undefined })),
      ],
      [
        'a non-URL endpoint',
        () => stub.routes.set(DISCOVERY, json(200, { ...metadataFor(stub.url), token_endpoint: 'token' })),
      ],
      [
        'an http endpoint off loopback',
        () =>
          stub.routes.set(
            DISCOVERY,
            json(200, { ...metadataFor(stub.url), token_endpoint: 'http://example.com/token' }),
          ),
      ],
      ['HTTP 500', () => stub.routes.set(DISCOVERY, json(500, {}))],
      ['a redirect', () => stub.routes.set(DISCOVERY, json(302, {}, { location: 'https://example.com/' }))],
    ];
    it.each(cases)('%s is discovery_failed', async (_name, arrange) => {
      arrange();
      // A checksum-valid key shape is not needed to reach discovery: the key check comes first.
      const { apiKeyChecksum } = await import('@clavis/core');
      const body = '0'.repeat(30);
      const err = await client({ env: { ...s.env, CLAVIS_API_KEY: `clv_${body}${apiKeyChecksum(body)}` } })
        .getToken()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClavisError);
      expect(err).toMatchObject({ code: 'discovery_failed' });
    });
  });

  describe('the token endpoint', () => {
    let key: string;
    beforeAll(async () => {
      const { apiKeyChecksum } = await import('@clavis/core');
      const body = '1'.repeat(30);
      key = `clv_${body}${apiKeyChecksum(body)}`;
    });
    const withKey = (options: Partial<Parameters<typeof createClient>[0]> = {}) =>
      client({ env: { ...s.env, CLAVIS_API_KEY: key }, ...options });

    it('an OAuth error body is its core class, with its description', async () => {
      stub.routes.set(DISCOVERY, json(200, metadataFor(stub.url)));
      stub.routes.set(
        '/oauth/token',
        json(400, { error: 'invalid_scope', error_description: 'no such scope' }),
      );
      const err = await withKey()
        .getToken()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidScope);
      expect(err).toMatchObject({ code: 'invalid_scope', description: 'no such scope' });
    });

    it('an error without a JSON body is invalid_response; a malformed token response too', async () => {
      stub.routes.set(DISCOVERY, json(200, metadataFor(stub.url)));
      stub.routes.set('/oauth/token', json(502, 'Bad gateway'));
      await expect(withKey().getToken()).rejects.toMatchObject({ code: 'invalid_response' });
      stub.routes.set('/oauth/token', json(200, { access_token: 'x', token_type: 'Bearer' }));
      await expect(withKey().getToken()).rejects.toMatchObject({ code: 'invalid_response' });
      stub.routes.set('/oauth/token', json(200, { access_token: 'x', token_type: 'MAC', expires_in: 60 }));
      await expect(withKey().getToken()).rejects.toMatchObject({ code: 'invalid_response' });
    });

    it('an oversized body is refused without being read to the end, declared or streamed', async () => {
      stub.routes.set(DISCOVERY, json(200, metadataFor(stub.url)));
      stub.routes.set(
        '/oauth/token',
        json(200, { access_token: 'a'.repeat(300_000), token_type: 'Bearer', expires_in: 60 }),
      );
      const declared = await withKey()
        .getToken()
        .catch((e: unknown) => e);
      expect(declared).toMatchObject({ code: 'invalid_response' });
      expect((declared as Error).message).toContain('larger than');
      let written = 0;
      stub.routes.set('/oauth/token', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = 'x'.repeat(64 * 1024);
        const pump = () => {
          while (written < 64 * 1024 * 1024 && res.write(chunk)) written += chunk.length;
          if (written < 64 * 1024 * 1024 && !res.destroyed) res.once('drain', pump);
          else res.end();
        };
        res.on('close', () => {
          written = Number.POSITIVE_INFINITY;
        });
        pump();
      });
      await expect(withKey({ maxResponseBytes: 128 * 1024 }).getToken()).rejects.toMatchObject({
        code: 'invalid_response',
      });
    });

    it('a token endpoint that stalls mid-answer is network_error', async () => {
      stub.routes.set(DISCOVERY, json(200, metadataFor(stub.url)));
      stub.routes.set('/oauth/token', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"access_token":"');
      });
      const err = await withKey({ timeoutMs: 500 })
        .getToken()
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'network_error' });
      expect((err as Error).message).toContain('in time');
    });

    it('a server that does not answer in time fails discovery, saying so', async () => {
      stub.routes.set(DISCOVERY, () => {});
      const err = await withKey({ timeoutMs: 300 })
        .getToken()
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'discovery_failed' });
      expect((err as Error).message).toContain('did not answer in time');
    });
  });

  describe('device flow polling', () => {
    const device = {
      device_code: 'dc',
      user_code: 'BCDF-GHJK',
      verification_uri: 'http://127.0.0.1/device',
      verification_uri_complete: 'http://127.0.0.1/device?user_code=BCDF-GHJK',
      expires_in: 600,
      interval: 2,
    };
    const token = {
      access_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c3JfMSJ9.',
      token_type: 'Bearer',
      expires_in: 600,
      refresh_token: 'clvr_x',
    };

    /** A clock and a sleep that only record: no real waiting. */
    function fakeTime() {
      let clock = 1_000_000;
      const sleeps: number[] = [];
      const sleep: Sleep = async (ms) => {
        sleeps.push(ms);
        clock += ms;
      };
      return { sleeps, sleep, now: () => clock };
    }

    it('honours interval, adds 5 s for every slow_down, waits through authorization_pending', async () => {
      const answers = [
        json(400, { error: 'authorization_pending' }),
        json(400, { error: 'slow_down' }),
        json(400, { error: 'authorization_pending' }),
        json(400, { error: 'slow_down' }),
        json(200, token),
      ];
      stub.routes.set(DISCOVERY, json(200, metadataFor(stub.url)));
      stub.routes.set('/oauth/device_authorization', json(200, device));
      stub.routes.set('/oauth/token', (req, res, body) => (answers.shift() ?? json(500, {}))(req, res, body));
      const time = fakeTime();
      const shown: string[] = [];
      const result = await client({ sleep: time.sleep, now: time.now }).login({
        onCode: (c) => void shown.push(c.userCode),
      });
      expect(shown).toEqual(['BCDF-GHJK']);
      expect(time.sleeps).toEqual([2000, 2000, 7000, 7000, 12000]);
      expect(result).toMatchObject({ source: 'login', principal: { sub: 'usr_1' } });
      const polls = stub.requests.filter((r) => r.path === '/oauth/token');
      expect(
        polls.every((p) => p.body.get('device_code') === 'dc' && p.body.get('client_id') === 'cli'),
      ).toBe(true);
    });

    it('expired_token is login_expired; so is running past expires_in', async () => {
      stub.routes.set(DISCOVERY, json(200, metadataFor(stub.url)));
      stub.routes.set('/oauth/device_authorization', json(200, device));
      stub.routes.set('/oauth/token', json(400, { error: 'expired_token' }));
      const time = fakeTime();
      await expect(
        client({ sleep: time.sleep, now: time.now }).login({ onCode: () => {} }),
      ).rejects.toMatchObject({
        code: 'login_expired',
      });
      stub.routes.set('/oauth/token', json(400, { error: 'authorization_pending' }));
      const later = fakeTime();
      await expect(
        client({ sleep: later.sleep, now: later.now }).login({ onCode: () => {} }),
      ).rejects.toMatchObject({
        code: 'login_expired',
      });
      expect(later.sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(600_000);
    });

    it('too_many_requests waits Retry-After; an unknown error stops polling, typed', async () => {
      const answers = [
        json(429, { error: 'too_many_requests' }, { 'retry-after': '9' }),
        json(400, { error: 'slow_down' }),
      ];
      stub.routes.set(DISCOVERY, json(200, metadataFor(stub.url)));
      stub.routes.set('/oauth/device_authorization', json(200, device));
      stub.routes.set('/oauth/token', (req, res, body) =>
        (answers.shift() ?? json(400, { error: 'invalid_client' }))(req, res, body),
      );
      const time = fakeTime();
      await expect(
        client({ sleep: time.sleep, now: time.now }).login({ onCode: () => {} }),
      ).rejects.toMatchObject({
        code: 'invalid_client',
      });
      expect(time.sleeps).toEqual([2000, 9000, 14000]);
      expect(new SlowDown('').code).toBe('slow_down');
    });

    it('a malformed device authorization answer is invalid_response', async () => {
      stub.routes.set(DISCOVERY, json(200, metadataFor(stub.url)));
      stub.routes.set('/oauth/device_authorization', json(200, { ...device, user_code: 42 }));
      await expect(client().login({ onCode: () => {} })).rejects.toMatchObject({ code: 'invalid_response' });
    });

    it('an AbortSignal cancels the wait at once, leaving no timer behind', async () => {
      stub.routes.set(DISCOVERY, json(200, metadataFor(stub.url)));
      stub.routes.set('/oauth/device_authorization', json(200, { ...device, interval: 3600 }));
      const controller = new AbortController();
      const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const pending = client().login({
        onCode: () => {
          setImmediate(() => controller.abort());
        },
        signal: controller.signal,
      });
      const started = Date.now();
      await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(
        before,
      );
    });
  });

  it('a malformed API key is refused before any request is made', async () => {
    await expect(apiKeyClient().getToken()).rejects.toMatchObject({ code: 'invalid_configuration' });
    expect(stub.requests).toEqual([]);
  });
});
