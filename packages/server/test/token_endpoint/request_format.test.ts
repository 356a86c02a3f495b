/**
 * The token endpoint's request format (RFC 6749 §3.2, Appendix B; BI-02): a form POST with every
 * parameter at most once. Missing and repeated parameters, other content types, oversized bodies and
 * other methods each get a clean 4xx, and none of them issues a token or reaches client authentication.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { basic, form, post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { expectOAuthError, expectToken } from '../../../../test/support/oauth_answers.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { expectClean } from './clean.js';

const FORM = 'application/x-www-form-urlencoded';
const CONTENT_TYPE_ERROR = 'content type must be application/x-www-form-urlencoded';
const TOO_LARGE = { error: 'invalid_request', error_description: 'request body too large' };

describe.each(dialects)('token endpoint request format (%s)', (dialect) => {
  let server: TestServer;
  let clientId: string;
  let secret: string;
  let auth: Record<string, string>;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    const created = await server.createClient({ scopes: ['read', 'write'] });
    clientId = created.client.id;
    secret = created.secret ?? '';
    auth = { authorization: basic(clientId, secret) };
  });
  afterAll(() => server.close());

  async function issuedTokens(): Promise<number> {
    await server.services.audit.drain();
    const rows = await server.services.db
      .selectFrom('audit_events')
      .select('event')
      .where('event', 'in', ['token.issue', 'client.auth_failed'])
      .execute();
    return rows.length;
  }

  const raw = (payload: string | Buffer | Readable, headers: Record<string, string>) =>
    server.app.inject({ method: 'POST', url: TOKEN_PATH, payload, headers });

  describe('200 (controls)', () => {
    it('a form with charset=utf-8 is accepted', async () => {
      const res = await raw(form({ grant_type: 'client_credentials' }), {
        ...auth,
        'content-type': `${FORM}; charset=utf-8`,
      });
      expectToken(res);
    });

    it('unknown parameters are ignored (RFC 6749 §3.2), including prototype names', async () => {
      const res = await post(
        server,
        TOKEN_PATH,
        {
          grant_type: 'client_credentials',
          __proto__x: '1',
          constructor: 'x',
          toString: 'y',
          hasOwnProperty: 'z',
        },
        auth,
      );
      expectToken(res);
      const proto = await raw('__proto__=polluted&grant_type=client_credentials', {
        ...auth,
        'content-type': FORM,
      });
      expectToken(proto);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('a body of exactly the 64 KiB limit is accepted', async () => {
      const base = form({ grant_type: 'client_credentials', pad: '' });
      const body = `${base}${'a'.repeat(64 * 1024 - base.length)}`;
      expect(Buffer.byteLength(body)).toBe(64 * 1024);
      expectToken(await post(server, TOKEN_PATH, body, auth));
    });
  });

  describe('400', () => {
    it('BI-02: a missing grant_type is invalid_request', async () => {
      const res = expectClean(await post(server, TOKEN_PATH, {}, auth));
      // RFC 6749 §5.2 forbids '"' in error_description; the server blanks it out.
      expectOAuthError(res, 400, 'invalid_request', "missing parameter 'grant_type'");
    });

    it('BI-02: an empty grant_type counts as missing', async () => {
      const res = expectClean(await post(server, TOKEN_PATH, 'grant_type=', auth));
      expectOAuthError(res, 400, 'invalid_request', "missing parameter 'grant_type'");
    });

    it('BI-02: an empty body is invalid_request', async () => {
      const res = expectClean(await raw('', { ...auth, 'content-type': FORM }));
      expectOAuthError(res, 400, 'invalid_request', "missing parameter 'grant_type'");
    });

    it.each([
      [
        'grant_type',
        [
          ['grant_type', 'client_credentials'],
          ['grant_type', 'client_credentials'],
        ],
      ],
      [
        'grant_type (second one empty)',
        [
          ['grant_type', 'client_credentials'],
          ['grant_type', ''],
        ],
      ],
      [
        'grant_type (differing values)',
        [
          ['grant_type', 'client_credentials'],
          ['grant_type', 'password'],
        ],
      ],
      [
        'scope',
        [
          ['grant_type', 'client_credentials'],
          ['scope', 'read'],
          ['scope', 'write'],
        ],
      ],
      [
        'client_id',
        [
          ['grant_type', 'client_credentials'],
          ['client_id', 'a'],
          ['client_id', 'a'],
        ],
      ],
      [
        'resource',
        [
          ['grant_type', 'client_credentials'],
          ['resource', 'https://a'],
          ['resource', 'https://b'],
        ],
      ],
    ] as Array<[string, Array<[string, string]>]>)(
      'BI-02: a repeated %s is invalid_request',
      async (name, pairs) => {
        const before = await issuedTokens();
        const res = expectClean(await post(server, TOKEN_PATH, form(pairs), auth));
        expectOAuthError(res, 400, 'invalid_request', `parameter '${name.split(' ')[0]}' is repeated`);
        expect(await issuedTokens()).toBe(before);
      },
    );

    it('BI-02: a repeated client_secret is invalid_request before any secret is compared', async () => {
      const before = await issuedTokens();
      const body = form([
        ['grant_type', 'client_credentials'],
        ['client_id', clientId],
        ['client_secret', secret],
        ['client_secret', 'other'],
      ]);
      const res = expectClean(await post(server, TOKEN_PATH, body));
      expectOAuthError(res, 400, 'invalid_request', "parameter 'client_secret' is repeated");
      expect(await issuedTokens()).toBe(before);
    });

    it('more than 64 parameters is invalid_request', async () => {
      const pairs: Array<[string, string]> = [['grant_type', 'client_credentials']];
      for (let i = 0; i < 64; i++) pairs.push([`p${i}`, 'x']);
      const res = expectClean(await post(server, TOKEN_PATH, form(pairs), auth));
      expectOAuthError(res, 400, 'invalid_request', 'too many parameters');
    });

    it.each([
      ['client_id', { grant_type: 'client_credentials', client_id: 'a\u0000b', client_secret: 'x' }],
      ['grant_type', { grant_type: 'client_credentials\u0000' }],
      ['scope', { grant_type: 'client_credentials', scope: 'read\u0000' }],
      ['an unknown parameter', { grant_type: 'client_credentials', 'x\u0000y': '1' }],
    ])(
      'a NUL byte in %s is invalid_request on every storage, before storage sees it',
      async (_name, body) => {
        const before = await issuedTokens();
        const res = expectClean(await post(server, TOKEN_PATH, body, 'client_secret' in body ? {} : auth));
        expectOAuthError(res, 400, 'invalid_request', 'parameters may not contain NUL characters');
        expect(await issuedTokens()).toBe(before);
      },
    );

    it('a NUL byte in the client id of a Basic header is invalid_client', async () => {
      const res = expectClean(
        await post(
          server,
          TOKEN_PATH,
          { grant_type: 'client_credentials' },
          { authorization: basic('a\u0000b', 'x') },
        ),
      );
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: 'invalid_client' });
    });

    it.each([
      ['a JSON body', 'application/json', JSON.stringify({ grant_type: 'client_credentials' })],
      ['text/plain', 'text/plain', form({ grant_type: 'client_credentials' })],
      [
        'multipart/form-data',
        'multipart/form-data; boundary=x',
        '--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n--x--\r\n',
      ],
      ['a media type that only starts like a form', `${FORM}x`, form({ grant_type: 'client_credentials' })],
      ['an XML body', 'application/xml', '<grant_type>client_credentials</grant_type>'],
    ])('BI-02: %s is invalid_request', async (_name, contentType, payload) => {
      const before = await issuedTokens();
      const res = expectClean(await raw(payload, { ...auth, 'content-type': contentType }));
      expectOAuthError(res, 400, 'invalid_request', CONTENT_TYPE_ERROR);
      expect(await issuedTokens()).toBe(before);
    });

    it('BI-02: a body without a content type is invalid_request', async () => {
      const res = expectClean(await raw(form({ grant_type: 'client_credentials' }), auth));
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expectOAuthError(res, 400, 'invalid_request', CONTENT_TYPE_ERROR);
    });

    it('a Content-Length that disagrees with the body is invalid_request', async () => {
      const body = form({ grant_type: 'client_credentials' });
      const res = expectClean(
        await raw(body, { ...auth, 'content-type': FORM, 'content-length': String(body.length + 10) }),
      );
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_request');
    });

    it('bytes that are not UTF-8 do not break parsing', async () => {
      const payload = Buffer.concat([
        Buffer.from([0xff, 0xfe, 0x3d, 0xc3]),
        Buffer.from('&grant_type=client_credentials'),
      ]);
      expectToken(await raw(payload, { ...auth, 'content-type': FORM }));
      const bad = Buffer.concat([Buffer.from('grant_type=client_credentials'), Buffer.from([0xc3, 0x28])]);
      const res = expectClean(await raw(bad, { ...auth, 'content-type': FORM }));
      expectOAuthError(res, 400, 'unsupported_grant_type', 'unsupported grant_type');
    });
  });

  describe('413', () => {
    it('BI-02: a body one byte over 64 KiB is 413 with an invalid_request body', async () => {
      const base = form({ grant_type: 'client_credentials', pad: '' });
      const body = `${base}${'a'.repeat(64 * 1024 + 1 - base.length)}`;
      const before = await issuedTokens();
      const res = expectClean(await post(server, TOKEN_PATH, body, auth));
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual(TOO_LARGE);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(await issuedTokens()).toBe(before);
    });

    it('BI-02: a 10 MB body is 413 with an invalid_request body', async () => {
      const body = `grant_type=client_credentials&pad=${'a'.repeat(10 * 1024 * 1024)}`;
      const res = expectClean(await post(server, TOKEN_PATH, body, auth));
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual(TOO_LARGE);
    });

    it('BI-02: a streamed body with no Content-Length is cut off at the limit with 413', async () => {
      const chunk = 'a'.repeat(16 * 1024);
      const stream = Readable.from(['grant_type=client_credentials&pad=', ...Array(8).fill(chunk)]);
      const res = expectClean(await raw(stream, { ...auth, 'content-type': FORM }));
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual(TOO_LARGE);
    });

    it('an oversized JSON body is refused too (size or type, never parsed)', async () => {
      const body = JSON.stringify({ grant_type: 'client_credentials', pad: 'a'.repeat(100 * 1024) });
      const res = expectClean(await raw(body, { ...auth, 'content-type': 'application/json' }));
      expect([400, 413]).toContain(res.statusCode);
      expect(res.json().error).toBe('invalid_request');
    });
  });

  describe('other methods', () => {
    // RFC 6749 §3.2: the client MUST use POST. Another method is 405 with `Allow: POST` (RFC 9110
    // §15.5.6) and an RFC 6749 error body; credentials in a query string never authenticate anyone.
    it.each(['GET', 'PUT', 'DELETE', 'PATCH'] as const)(
      '%s on the token endpoint is 405 invalid_request with Allow: POST, and issues nothing',
      async (method) => {
        const before = await issuedTokens();
        const query = new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: clientId,
          client_secret: secret,
        });
        const res = await server.app.inject({ method, url: `${TOKEN_PATH}?${query}`, headers: auth });
        expectClean(res);
        expect(res.statusCode).toBe(405);
        expect(res.headers.allow).toBe('POST');
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.json()).toEqual({
          error: 'invalid_request',
          error_description: 'this endpoint accepts only POST',
        });
        expect(await issuedTokens()).toBe(before);
      },
    );

    it.each([
      '/oauth/device_authorization',
      '/oauth/introspect',
      '/oauth/revoke',
      '/oauth/api-keys',
      '/oauth/api-keys/verify',
      '/oauth/api-keys/leaks',
    ])('GET %s is 405 with Allow: POST too', async (path) => {
      const res = await server.app.inject({ method: 'GET', url: path });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.json()).toMatchObject({ error: 'invalid_request' });
    });

    it('a POST with the parameters in the query string instead of the body is invalid_request', async () => {
      const query = new URLSearchParams({ grant_type: 'client_credentials' });
      const res = expectClean(await post(server, `${TOKEN_PATH}?${query}`, '', auth));
      expectOAuthError(res, 400, 'invalid_request', "missing parameter 'grant_type'");
    });
  });
});
