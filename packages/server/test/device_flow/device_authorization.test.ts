/**
 * The device authorization endpoint (RFC 8628 §3.1–3.2): who may ask, what scope, and bad input —
 * every refusal is a clean RFC 6749 error and leaves no device_codes row behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { basic, form, post } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { countRows, requestDeviceCodeRaw } from './support.js';

const PATH = '/oauth/device_authorization';

describe.each(dialects)('POST /oauth/device_authorization (%s)', (dialect) => {
  let server: TestServer;
  let publicId: string;
  let confidentialId: string;
  let confidentialSecret: string;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    publicId = (await server.createClient({ kind: 'public', scopes: ['openid', 'read'] })).client.id;
    const confidential = await server.createClient({
      kind: 'confidential',
      grants: ['device_code', 'refresh_token'],
      scopes: ['read'],
    });
    confidentialId = confidential.client.id;
    confidentialSecret = confidential.secret ?? '';
  });
  afterAll(() => server.close());

  const codesOf = (clientId: string) =>
    countRows(server, 'device_codes', { column: 'client_id', value: clientId });

  describe('200', () => {
    it('a confidential client with the device grant authenticates with Basic and gets a code', async () => {
      const res = await requestDeviceCodeRaw(
        server,
        { id: confidentialId, secret: confidentialSecret },
        'read',
      );
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toMatchObject({ device_code: expect.any(String), expires_in: 600, interval: 5 });
      expect(await codesOf(confidentialId)).toBe(1);
    });

    it('no scope asked: the request is for the minimal default (openid profile, within the ceiling), not the whole ceiling, and it is audited', async () => {
      const res = await requestDeviceCodeRaw(server, publicId);
      expect(res.statusCode).toBe(200);
      const records = (await auditRecords(server, 'device.request')).filter((r) => r.client_id === publicId);
      expect(records.at(-1)?.detail).toMatchObject({ scope: 'openid' });
    });
  });

  describe('400 / 401 / 413', () => {
    it('DF-01: a client without the device grant → 400 unauthorized_client, no code row', async () => {
      const { client, secret } = await server.createClient({ kind: 'confidential', scopes: ['read'] });
      const res = await post(
        server,
        PATH,
        { scope: 'read' },
        { authorization: basic(client.id, secret ?? '') },
      );
      expect(res.statusCode).toBe(400);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({
        error: 'unauthorized_client',
        error_description: 'the client may not use the device authorization grant',
      });
      expect(await codesOf(client.id)).toBe(0);
    });

    it('DF-01: a public client registered only for refresh_token → 400 unauthorized_client, no code row', async () => {
      const { client } = await server.createClient({
        kind: 'public',
        grants: ['refresh_token'],
        scopes: ['read'],
      });
      const res = await post(server, PATH, { client_id: client.id, scope: 'read' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'unauthorized_client',
        error_description: 'the client may not use the device authorization grant',
      });
      expect(await codesOf(client.id)).toBe(0);
    });

    it('DF-02: a scope with a newline → 400 invalid_scope; nothing stored, the raw input in no audit record', async () => {
      const before = await codesOf(publicId);
      const res = await post(server, PATH, { client_id: publicId, scope: 'read\nINJECTED_LINE admin' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'invalid_scope', error_description: 'scope is malformed' });
      expect(await codesOf(publicId)).toBe(before);
      const rows = await server.services.db.selectFrom('audit_events').select('detail').execute();
      expect(rows.filter((r) => r.detail.includes('INJECTED_LINE'))).toEqual([]);
    });

    it('DF-02: a scope outside the ceiling → 400 invalid_scope; nothing stored', async () => {
      const before = await codesOf(publicId);
      const res = await post(server, PATH, { client_id: publicId, scope: 'read admin' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_scope',
        error_description: 'scope not allowed for this client: admin',
      });
      expect(await codesOf(publicId)).toBe(before);
    });

    it('DF-02: a 10 kB scope → 400 invalid_request; nothing stored', async () => {
      const before = await codesOf(publicId);
      const res = await post(server, PATH, { client_id: publicId, scope: 'read '.repeat(2000) });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'scope is too long' });
      expect(await codesOf(publicId)).toBe(before);
    });

    it('DF-02: a 1 MB scope → 413 invalid_request; nothing stored', async () => {
      const before = await codesOf(publicId);
      const res = await post(server, PATH, { client_id: publicId, scope: 'a'.repeat(1024 * 1024) });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'request body too large' });
      expect(await codesOf(publicId)).toBe(before);
    });

    it('an unknown client_id → 401 invalid_client', async () => {
      const res = await post(server, PATH, { client_id: 'cli_doesnotexist', scope: 'read' });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: 'invalid_client',
        error_description: 'client authentication failed',
      });
      expect(await codesOf('cli_doesnotexist')).toBe(0);
    });

    it('no client at all → 401 invalid_client', async () => {
      const res = await post(server, PATH, { scope: 'read' });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('invalid_client');
    });

    it('a wrong secret for a confidential client → 401 invalid_client with a Basic challenge', async () => {
      const res = await requestDeviceCodeRaw(server, { id: confidentialId, secret: 'clvs_wrong' }, 'read');
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="clavis", charset="UTF-8"');
      expect(res.json()).toEqual({
        error: 'invalid_client',
        error_description: 'client authentication failed',
      });
    });

    it('a duplicated client_id or scope → 400 invalid_request; nothing stored', async () => {
      const before = await codesOf(publicId);
      for (const pairs of [
        [
          ['client_id', publicId],
          ['client_id', publicId],
        ],
        [
          ['client_id', publicId],
          ['scope', 'read'],
          ['scope', 'openid'],
        ],
      ] as Array<Array<[string, string]>>) {
        const res = await post(server, PATH, form(pairs));
        expect(res.statusCode).toBe(400);
        expect(res.json()).toEqual({
          error: 'invalid_request',
          error_description: `parameter '${pairs.at(-1)?.[0]}' is repeated`,
        });
      }
      expect(await codesOf(publicId)).toBe(before);
    });

    it('a JSON body → 400 invalid_request; nothing stored', async () => {
      const before = await codesOf(publicId);
      const res = await server.app.inject({
        method: 'POST',
        url: PATH,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ client_id: publicId, scope: 'read' }),
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_request',
        error_description: 'content type must be application/x-www-form-urlencoded',
      });
      expect(await codesOf(publicId)).toBe(before);
    });

    it('GET → 405 invalid_request with Allow: POST, never 500', async () => {
      const res = await server.app.inject({ method: 'GET', url: PATH });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.json()).toMatchObject({ error: 'invalid_request' });
    });
  });
});
