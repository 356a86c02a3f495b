/**
 * client_secret_basic and client_secret_post at the token endpoint: CA-01 (wrong secret, malformed
 * Basic headers), CA-02 (one answer for unknown client, wrong secret and a secret sharing the right
 * prefix — timing itself is the bench's job), CA-12 (rotation with an overlap window), and a client
 * held to the method it registered.
 */
import { adminClients } from '@clavis/server';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { jwksOf, newClientKey } from '../../../../test/support/jwt.js';
import { basic, post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { expectInvalidClient, expectToken } from '../../../../test/support/oauth_answers.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';

const CC = { grant_type: 'client_credentials' };

/** Everything a client can observe about an answer, except the Date header and the random request id. */
function observable(res: LightMyRequestResponse) {
  const { date: _date, 'x-request-id': requestId, ...headers } = res.headers;
  expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  return { status: res.statusCode, headers, body: res.body };
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function adminDeps(server: TestServer): adminClients.AdminDeps {
  return {
    db: server.services.db,
    audit: server.services.audit,
    hasher: server.services.hasher,
    clock: server.clock.read,
    maxAccessTokenTtlSeconds: server.config.maxAccessTokenTtlSeconds,
    defaultAccessTokenTtlSeconds: server.config.defaultAccessTokenTtlSeconds,
  };
}

describe.each(dialects)('client secrets at the token endpoint (%s)', (dialect) => {
  let server: TestServer;
  let clientId: string;
  let secret: string;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    const created = await server.createClient({ scopes: ['read', 'write'] });
    clientId = created.client.id;
    secret = created.secret ?? '';
    expect(secret).toMatch(/^clvs_/);
  });
  afterAll(() => server.close());

  describe('200', () => {
    it('client_secret_basic with the right secret', async () => {
      expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(clientId, secret) }));
    });

    it('the Basic scheme name is case-insensitive and client_id may repeat the header (RFC 6749 §2.3.1)', async () => {
      const header = basic(clientId, secret).replace(/^Basic/, 'bAsIc');
      expectToken(await post(server, TOKEN_PATH, { ...CC, client_id: clientId }, { authorization: header }));
    });

    it('client_secret_post for a client registered with client_secret_post', async () => {
      const post_ = await server.createClient({ authMethod: 'client_secret_post' });
      expect(post_.client.authMethod).toBe('client_secret_post');
      const res = await post(server, TOKEN_PATH, {
        ...CC,
        client_id: post_.client.id,
        client_secret: post_.secret ?? '',
      });
      expectToken(res);
    });
  });

  describe('401', () => {
    it('CA-01: a wrong client_secret is invalid_client with WWW-Authenticate', async () => {
      const res = await post(server, TOKEN_PATH, CC, { authorization: basic(clientId, 'clvs_wrong') });
      expectInvalidClient(res, 'client authentication failed');
    });

    it('CA-01: an unknown client gets exactly the answer a wrong secret gets (status, headers, body)', async () => {
      const wrong = await post(server, TOKEN_PATH, CC, {
        authorization: basic(clientId, 'clvs_not-the-secret'),
      });
      const unknown = await post(server, TOKEN_PATH, CC, {
        authorization: basic('svc_doesnotexist', 'clvs_not-the-secret'),
      });
      expectInvalidClient(unknown, 'client authentication failed');
      expect(observable(unknown)).toEqual(observable(wrong));
    });

    it.each([
      ['non-base64 credentials', 'Basic !!!not*base64!!!'],
      ['base64 without a colon', `Basic ${b64('svc_nocolonhere')}`],
      ['an empty client id', `Basic ${b64(':some-secret')}`],
      ['an empty secret', `Basic ${b64('svc_someone:')}`],
      ['nothing after the scheme', 'Basic '],
      ['a bad percent-encoding inside', `Basic ${b64('svc_%zz:secret')}`],
      ['an oversized header', `Basic ${b64(`svc_a:${'s'.repeat(2000)}`)}`],
    ])(
      'CA-01: a malformed Basic header (%s) is invalid_client with WWW-Authenticate',
      async (_name, header) => {
        const res = await post(server, TOKEN_PATH, CC, { authorization: header });
        expectInvalidClient(res, 'malformed Basic authorization header');
      },
    );

    it.each([
      ['Bearer', `Bearer ${b64('x:y')}`],
      ['Digest', 'Digest username="svc_a"'],
      ['Basic with no separator', `Basic${b64('x:y')}`],
    ])(
      'CA-01: an unknown authorization scheme (%s) is invalid_client with WWW-Authenticate',
      async (_n, header) => {
        const res = await post(server, TOKEN_PATH, CC, { authorization: header });
        expectInvalidClient(res, 'unsupported authorization scheme');
      },
    );

    it('CA-01: the same wrong secret sent with client_secret_post gets the same invalid_client', async () => {
      const res = await post(server, TOKEN_PATH, {
        ...CC,
        client_id: 'svc_doesnotexist',
        client_secret: 'nope',
      });
      expectInvalidClient(res, 'client authentication failed');
    });

    it('CA-02: unknown client, wrong secret and a secret sharing all but its last byte get one identical answer', async () => {
      const last = secret.at(-1) === 'A' ? 'B' : 'A';
      const attempts = {
        unknownClient: basic('svc_doesnotexist', secret),
        wrongFirstByte: basic(clientId, `${secret[0] === 'x' ? 'y' : 'x'}${secret.slice(1)}`),
        rightPrefix: basic(clientId, `${secret.slice(0, -1)}${last}`),
        rightSecretPlusOne: basic(clientId, `${secret}A`),
        rightPrefixShorter: basic(clientId, secret.slice(0, -1)),
      };
      const answers = [];
      for (const authorization of Object.values(attempts)) {
        answers.push(observable(await post(server, TOKEN_PATH, CC, { authorization })));
      }
      for (const answer of answers) expect(answer).toEqual(answers[0]);
      expect(answers[0]?.status).toBe(401);
      // And the right secret still works: the near misses above were refused on the secret alone.
      expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(clientId, secret) }));
    });

    // Basic and post carry the same secret, so a secret client may use either: clients such as
    // openid-client default to post whatever was registered. Keys and none are another matter (below).
    it('a client_secret_basic client may send its secret in the body (client_secret_post)', async () => {
      const res = await post(server, TOKEN_PATH, { ...CC, client_id: clientId, client_secret: secret });
      expectToken(res);
    });

    it('a client_secret_post client may send its secret in a Basic header', async () => {
      const { client, secret: postSecret } = await server.createClient({ authMethod: 'client_secret_post' });
      expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, postSecret ?? '') }));
    });

    it('a wrong secret is refused whichever secret method carries it', async () => {
      const wrong = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
      expectInvalidClient(
        await post(server, TOKEN_PATH, { ...CC, client_id: clientId, client_secret: wrong }),
        'client authentication failed',
      );
      expectInvalidClient(
        await post(server, TOKEN_PATH, CC, { authorization: basic(clientId, wrong) }),
        'client authentication failed',
      );
    });

    it('a private_key_jwt client cannot fall back to a secret', async () => {
      const key = await newClientKey('EdDSA');
      const { client } = await server.createClient({ authMethod: 'private_key_jwt', jwks: jwksOf(key) });
      const res = await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, 'clvs_anything') });
      expectInvalidClient(res, 'client authentication failed');
    });

    it('a public client presenting a secret is refused', async () => {
      const { client } = await server.createClient({ kind: 'public', scopes: [] });
      const res = await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, 'clvs_anything') });
      expectInvalidClient(res, 'client authentication failed');
    });
  });

  describe('400', () => {
    it('two methods at once (Basic and client_secret in the body) is invalid_request', async () => {
      const res = await post(
        server,
        TOKEN_PATH,
        { ...CC, client_id: clientId, client_secret: secret },
        {
          authorization: basic(clientId, secret),
        },
      );
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_request',
        error_description: 'use exactly one client authentication method',
      });
    });

    it('a body client_id that disagrees with the Basic header is invalid_request', async () => {
      const res = await post(
        server,
        TOKEN_PATH,
        { ...CC, client_id: 'svc_someoneelse' },
        {
          authorization: basic(clientId, secret),
        },
      );
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_request',
        error_description: 'client_id does not match the authorization header',
      });
    });

    it('client_secret without client_id is invalid_request', async () => {
      const res = await post(server, TOKEN_PATH, { ...CC, client_secret: secret });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_request',
        error_description: 'client_secret requires client_id',
      });
    });
  });

  describe('CA-12: secret rotation', () => {
    it('CA-12: the old secret works through the grace period and is refused after it; the new one works', async () => {
      const { client, secret: oldSecret = '' } = await server.createClient({});
      const rotated = await adminClients.rotateClientSecret(
        adminDeps(server),
        client.id,
        { graceSeconds: 300 },
        { type: 'admin', id: 'test' },
      );
      expect(rotated.secret).toMatch(/^clvs_/);
      expect(rotated.secret).not.toBe(oldSecret);
      expect(rotated.previousExpireAt).toBe(server.clock.now + 300_000);

      expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, oldSecret) }));
      expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, rotated.secret) }));

      server.clock.advanceSeconds(299);
      expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, oldSecret) }));

      server.clock.advanceSeconds(1);
      expectInvalidClient(
        await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, oldSecret) }),
        'client authentication failed',
      );
      expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, rotated.secret) }));

      server.clock.advanceSeconds(86_400);
      expectInvalidClient(
        await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, oldSecret) }),
        'client authentication failed',
      );
      expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, rotated.secret) }));
    });

    it('CA-12: with no grace period the old secret stops at once', async () => {
      const { client, secret: oldSecret = '' } = await server.createClient({});
      const rotated = await adminClients.rotateClientSecret(
        adminDeps(server),
        client.id,
        { graceSeconds: 0 },
        { type: 'admin', id: 'test' },
      );
      expectInvalidClient(
        await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, oldSecret) }),
        'client authentication failed',
      );
      expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, rotated.secret) }));
    });

    it('CA-12: a client_secret_post client rotates the same way', async () => {
      const { client, secret: oldSecret = '' } = await server.createClient({
        authMethod: 'client_secret_post',
      });
      const rotated = await adminClients.rotateClientSecret(
        adminDeps(server),
        client.id,
        { graceSeconds: 60 },
        { type: 'admin', id: 'test' },
      );
      const withSecret = (s: string) => ({ ...CC, client_id: client.id, client_secret: s });
      expectToken(await post(server, TOKEN_PATH, withSecret(oldSecret)));
      server.clock.advanceSeconds(61);
      expectInvalidClient(
        await post(server, TOKEN_PATH, withSecret(oldSecret)),
        'client authentication failed',
      );
      expectToken(await post(server, TOKEN_PATH, withSecret(rotated.secret)));
    });

    it('CA-12: secrets are stored only as hashes, and no audit record holds one', async () => {
      const { client, secret: oldSecret = '' } = await server.createClient({});
      const rotated = await adminClients.rotateClientSecret(
        adminDeps(server),
        client.id,
        { graceSeconds: 60 },
        { type: 'admin', id: 'test' },
      );
      await server.services.audit.drain();
      const stored = await server.services.db
        .selectFrom('client_secrets')
        .selectAll()
        .where('client_id', '=', client.id)
        .execute();
      expect(stored).toHaveLength(2);
      const storedText = JSON.stringify(stored);
      const auditText = JSON.stringify(
        await server.services.db.selectFrom('audit_events').selectAll().execute(),
      );
      for (const s of [oldSecret, rotated.secret]) {
        expect(storedText).not.toContain(s);
        expect(storedText).not.toContain(s.slice(5)); // without the clvs_ prefix
        expect(auditText).not.toContain(s.slice(5));
      }
      const rotation = await server.services.db
        .selectFrom('audit_events')
        .selectAll()
        .where('event', '=', 'client.secret_rotate')
        .where('client_id', '=', client.id)
        .execute();
      expect(rotation).toHaveLength(1);
    });
  });
});
