/**
 * API keys over real HTTP against a listening server (the code `clavis serve` runs): the key → token
 * exchange through openid-client's `genericGrantRequest` (a client we did not write), the token verified
 * with jose against the published JWKS; X-Forwarded-For believed only from the configured proxy (AK-01);
 * and, after it all, no key plaintext in the server's log lines or in the audit log.
 */
import { Writable } from 'node:stream';
import { API_KEY_PATTERN, generateApiKey } from '@clavis/core';
import { adminApiKeys, type RunningServer } from '@clavis/server';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';
import { API_KEY_TYPE, TOKEN_EXCHANGE } from './support.js';

class LogSink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

describe.each(dialects)('API keys over real HTTP (%s)', (dialect) => {
  let server: RealServer;
  let running: RunningServer;
  let issuer: string;
  let ownerId: string;
  let rs: { id: string; secret: string };
  const logs = new LogSink();
  const presented: string[] = [];

  const admin = { type: 'admin' as const, id: 'interop-test' };
  async function newKey(input: Partial<adminApiKeys.CreateApiKeyInput> = {}): Promise<string> {
    const { services, config } = running;
    const created = await adminApiKeys.createApiKey(
      {
        db: services.db,
        audit: services.audit,
        hasher: services.hasher,
        clock: config.clock,
        apiKeyMaxTtlSeconds: config.apiKeyMaxTtlSeconds,
      },
      { owner: ownerId, scopes: ['read'], ttlSeconds: 3600, ...input },
      admin,
    );
    presented.push(created.plaintext);
    return created.plaintext;
  }

  function rawExchange(key: string, headers: Record<string, string> = {}) {
    return fetch(`${issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        subject_token: key,
        subject_token_type: API_KEY_TYPE,
      }),
    });
  }

  beforeAll(async () => {
    server = await startRealServer(dialect, {
      config: { trustedProxies: ['127.0.0.1'] },
      logger: pino({ level: 'trace' }, logs),
    });
    ({ running, issuer } = server);
    ownerId = (await server.createClient({ name: 'batch', scopes: ['read', 'write'] })).client.id;
    const r = await server.createClient({ name: 'rs', scopes: [] });
    rs = { id: r.client.id, secret: r.secret ?? '' };
  });
  afterAll(() => server.close());

  it('openid-client exchanges a key with genericGrantRequest; the token verifies against the JWKS', async () => {
    const key = await newKey({ scopes: ['read', 'write'] });
    const config = await client.discovery(new URL(issuer), ownerId, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const response = await client.genericGrantRequest(config, TOKEN_EXCHANGE, {
      subject_token: key,
      subject_token_type: API_KEY_TYPE,
      scope: 'read',
    });
    expect(response.token_type.toLowerCase()).toBe('bearer');
    expect(response.scope).toBe('read');
    expect(response.refresh_token).toBeUndefined();
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri ?? ''));
    const { payload, protectedHeader } = await jwtVerify(response.access_token, jwks, {
      issuer,
      typ: 'at+jwt',
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ sub: ownerId, client_id: ownerId, scope: 'read' });
    expect(typeof payload.api_key_id).toBe('string');
  });

  it('openid-client sees an unusable key as invalid_request', async () => {
    const config = await client.discovery(new URL(issuer), ownerId, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const bogus = generateApiKey();
    presented.push(bogus);
    await expect(
      client.genericGrantRequest(config, TOKEN_EXCHANGE, {
        subject_token: bogus,
        subject_token_type: API_KEY_TYPE,
      }),
    ).rejects.toMatchObject({ error: 'invalid_request' });
  });

  it('AK-01: X-Forwarded-For from the configured proxy is the address checked; the peer itself is not in the list', async () => {
    const key = await newKey({ cidrs: ['10.1.2.0/24'] });
    expect((await rawExchange(key, { 'x-forwarded-for': '10.1.2.3' })).status).toBe(200);
    const outside = await rawExchange(key, { 'x-forwarded-for': '198.51.100.4' });
    // At the token endpoint every refusal but invalid_client and rate limits is 400 (RFC 6749 §5.2).
    expect(outside.status).toBe(400);
    expect(await outside.json()).toEqual({
      error: 'invalid_request',
      error_description: 'the API key may not be used from this address',
    });
    // A client-written entry before the real one is not believed: the proxy's view is the last hop.
    expect((await rawExchange(key, { 'x-forwarded-for': '10.1.2.3, 198.51.100.4' })).status).toBe(400);
    expect((await rawExchange(key)).status).toBe(400);
  });

  it('verification over HTTP, then no key plaintext anywhere in the logs or the audit log', async () => {
    const key = await newKey();
    const auth = `Basic ${Buffer.from(`${rs.id}:${rs.secret}`).toString('base64')}`;
    for (const k of [key, `${key.slice(0, -1)}x`, 'clv_short']) {
      presented.push(k);
      await fetch(`${issuer}/oauth/api-keys/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
        body: new URLSearchParams({ key: k, ip: '198.51.100.9' }),
      });
    }
    await fetch(`${issuer}/oauth/api-keys/leaks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ token: key, url: 'https://example.com/leak', source: 'content' }]),
    });
    await running.services.audit.drain();
    const audit = await running.services.db.selectFrom('audit_events').selectAll().execute();
    expect(audit.length).toBeGreaterThan(0);
    const auditText = JSON.stringify(audit);
    expect(auditText).not.toMatch(API_KEY_PATTERN);
    expect(logs.text.length).toBeGreaterThan(0);
    expect(logs.text).not.toMatch(API_KEY_PATTERN);
    for (const k of presented) {
      expect(auditText).not.toContain(k);
      expect(logs.text).not.toContain(k);
    }
  });
});
