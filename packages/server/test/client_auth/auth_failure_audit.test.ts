/**
 * The first client-authentication failure of its kind in a window leaves exactly one `client.auth_failed`
 * audit record (outcome failure) saying why, from where and for which client — and no record anywhere in the audit table
 * holds a secret, a Basic header or an assertion.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import {
  type ClientKey,
  jwksOf,
  newClientKey,
  signAssertion,
  unsecuredAssertion,
} from '../../../../test/support/jwt.js';
import { basic, post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { assertionClaims, assertionRequest } from './assertion_kit.js';

const CC = { grant_type: 'client_credentials' };

interface Attempt {
  name: string;
  /** What was sent that must never reach the audit log. */
  sensitive: string[];
  status: number;
  reason: string;
  /** The client the record names: 'secret' / 'jwt' for the test's clients, null for none. */
  client: 'secret' | 'jwt' | null;
  endpoint?: 'token' | 'introspection' | 'revocation';
  send(userAgent: string): Promise<LightMyRequestResponse>;
}

describe.each(dialects)('client.auth_failed audit records (%s)', (dialect) => {
  let server: TestServer;
  let secretClient: { id: string; secret: string };
  let jwtClient: { id: string; key: ClientKey };
  const sensitiveSeen: string[] = [];

  beforeAll(async () => {
    server = await createTestServer(dialect);
    const created = await server.createClient({});
    secretClient = { id: created.client.id, secret: created.secret ?? '' };
    const key = await newClientKey('ES256');
    const { client } = await server.createClient({ authMethod: 'private_key_jwt', jwks: jwksOf(key) });
    jwtClient = { id: client.id, key };
  });
  afterAll(() => server.close());

  const idOf = (which: Attempt['client']) =>
    which === 'secret' ? secretClient.id : which === 'jwt' ? jwtClient.id : null;

  const attempts = (): Attempt[] => {
    const wrong = 'clvs_WrongSecretValue0123456789abcdefghijklmnop';
    const bearer = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.';
    return [
      {
        name: 'wrong secret (Basic)',
        sensitive: [wrong, secretClient.secret, basic(secretClient.id, wrong).slice(6)],
        status: 401,
        reason: 'wrong or expired secret',
        client: 'secret',
        send: (ua) =>
          post(server, TOKEN_PATH, CC, { authorization: basic(secretClient.id, wrong), 'user-agent': ua }),
      },
      {
        name: 'unknown client (Basic)',
        sensitive: [wrong],
        status: 401,
        reason: 'unknown client',
        client: null,
        send: (ua) =>
          post(server, TOKEN_PATH, CC, { authorization: basic('svc_nobody', wrong), 'user-agent': ua }),
      },
      {
        name: 'malformed Basic header',
        sensitive: ['c2VjcmV0LXdpdGhvdXQtY29sb24'],
        status: 401,
        reason: 'malformed Basic authorization header',
        client: null,
        send: (ua) =>
          post(server, TOKEN_PATH, CC, {
            authorization: 'Basic c2VjcmV0LXdpdGhvdXQtY29sb24=',
            'user-agent': ua,
          }),
      },
      {
        name: 'Bearer scheme',
        sensitive: [bearer],
        status: 401,
        reason: 'unsupported authorization scheme',
        client: null,
        send: (ua) => post(server, TOKEN_PATH, CC, { authorization: `Bearer ${bearer}`, 'user-agent': ua }),
      },
      {
        name: 'two methods at once (CA-03)',
        sensitive: [secretClient.secret],
        status: 400,
        reason: 'use exactly one client authentication method',
        client: null,
        send: (ua) =>
          post(
            server,
            TOKEN_PATH,
            { ...CC, client_id: secretClient.id, client_secret: secretClient.secret },
            {
              authorization: basic(secretClient.id, secretClient.secret),
              'user-agent': ua,
            },
          ),
      },
      {
        name: 'wrong secret at the introspection endpoint',
        sensitive: [wrong],
        status: 401,
        reason: 'wrong or expired secret',
        client: 'secret',
        endpoint: 'introspection',
        send: (ua) =>
          post(
            server,
            '/oauth/introspect',
            { token: 'x' },
            {
              authorization: basic(secretClient.id, wrong),
              'user-agent': ua,
            },
          ),
      },
      {
        name: 'wrong secret at the revocation endpoint',
        sensitive: [wrong],
        status: 401,
        reason: 'wrong or expired secret',
        client: 'secret',
        endpoint: 'revocation',
        send: (ua) =>
          post(
            server,
            '/oauth/revoke',
            { token: 'x' },
            { authorization: basic(secretClient.id, wrong), 'user-agent': ua },
          ),
      },
    ];
  };

  /** Assertion attempts need keys, so they are built inside their tests. */
  async function assertionAttempts(): Promise<Attempt[]> {
    const now = server.clock.now;
    const attacker = await newClientKey('ES256', jwtClient.key.kid);
    const forged = await signAssertion(attacker, assertionClaims(jwtClient.id, now));
    const expired = await signAssertion(
      jwtClient.key,
      assertionClaims(jwtClient.id, now, { exp: Math.floor(now / 1000) - 300 }),
    );
    const none = unsecuredAssertion(assertionClaims(jwtClient.id, now));
    const spent = await signAssertion(jwtClient.key, assertionClaims(jwtClient.id, now));
    const first = await post(server, TOKEN_PATH, assertionRequest(spent));
    expect(first.statusCode).toBe(200);
    const viaAssertion = (assertion: string) => (ua: string) =>
      post(server, TOKEN_PATH, assertionRequest(assertion), { 'user-agent': ua });
    const sensitive = (a: string) => [a, a.split('.')[2] ?? a].filter((s) => s.length > 0);
    return [
      {
        name: 'assertion signed by an unregistered key',
        sensitive: sensitive(forged),
        status: 401,
        reason: 'client_assertion signature is invalid',
        client: 'jwt',
        send: viaAssertion(forged),
      },
      {
        name: 'expired assertion',
        sensitive: sensitive(expired),
        status: 401,
        reason: 'client_assertion has expired',
        client: 'jwt',
        send: viaAssertion(expired),
      },
      {
        name: 'alg none assertion',
        sensitive: [none],
        status: 401,
        reason: 'client_assertion signature is invalid',
        client: 'jwt',
        send: viaAssertion(none),
      },
      {
        name: 'replayed assertion',
        sensitive: sensitive(spent),
        status: 401,
        reason: 'client_assertion replayed',
        client: 'jwt',
        send: viaAssertion(spent),
      },
      {
        name: 'assertion for an unknown client',
        sensitive: [],
        status: 401,
        reason: 'unknown client',
        client: null,
        send: viaAssertion(unsecuredAssertion(assertionClaims('svc_nobody', now))),
      },
    ];
  }

  async function check(attempt: Attempt): Promise<void> {
    const ua = `audit-test/${attempt.name.replace(/[^a-z0-9]+/gi, '-')}`;
    // A fresh aggregation window: the first failure of its kind in a window is recorded as it happens.
    await server.failures.flush();
    const res = await attempt.send(ua);
    expect(res.statusCode).toBe(attempt.status);
    sensitiveSeen.push(...attempt.sensitive);
    await server.services.audit.drain();
    const rows = await server.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('user_agent', '=', ua)
      .execute();
    expect(rows).toHaveLength(1);
    const [row] = rows;
    const clientId = idOf(attempt.client);
    expect(row).toMatchObject({
      event: 'client.auth_failed',
      outcome: 'failure',
      actor_type: clientId ? 'client' : 'anonymous',
      actor_id: clientId,
      client_id: clientId,
      user_agent: ua,
      ip: expect.any(String),
    });
    expect(JSON.parse(row?.detail ?? '{}')).toEqual({
      endpoint: attempt.endpoint ?? 'token',
      reason: attempt.reason,
      request_id: expect.any(String),
    });
    const text = JSON.stringify(row);
    for (const s of attempt.sensitive) expect(text).not.toContain(s);
  }

  it('a failure with a secret, header or method problem writes one client.auth_failed record with its reason', async () => {
    for (const attempt of attempts()) await check(attempt);
  });

  it('a secret sent to a client registered for keys writes one client.auth_failed record', async () => {
    await check({
      name: 'a secret for a private_key_jwt client',
      sensitive: ['clvs_not_a_real_secret_for_this_client'],
      status: 401,
      reason: 'client is registered for private_key_jwt',
      client: 'jwt',
      send: (ua) =>
        post(server, TOKEN_PATH, CC, {
          authorization: basic(jwtClient.id, 'clvs_not_a_real_secret_for_this_client'),
          'user-agent': ua,
        }),
    });
  });

  it('a failing client assertion writes one client.auth_failed record with its reason', async () => {
    for (const attempt of await assertionAttempts()) await check(attempt);
  });

  it('a successful authentication writes no client.auth_failed record', async () => {
    const ua = 'audit-test/success';
    const res = await post(server, TOKEN_PATH, CC, {
      authorization: basic(secretClient.id, secretClient.secret),
      'user-agent': ua,
    });
    expect(res.statusCode).toBe(200);
    await server.services.audit.drain();
    const rows = await server.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('user_agent', '=', ua)
      .execute();
    expect(rows.map((r) => r.event)).toEqual(['token.issue']);
  });

  it('nothing in the whole audit table holds a secret, a Basic credential or an assertion', async () => {
    // Run everything again, so this test stands alone.
    for (const attempt of [...attempts(), ...(await assertionAttempts())]) {
      sensitiveSeen.push(...attempt.sensitive);
      await attempt.send('audit-test/grep');
    }
    await server.services.audit.drain();
    const all = await server.services.db.selectFrom('audit_events').selectAll().execute();
    expect(all.filter((r) => r.event === 'client.auth_failed').length).toBeGreaterThanOrEqual(12);
    const text = JSON.stringify(all);
    const needles = [...new Set([...sensitiveSeen, secretClient.secret, secretClient.secret.slice(5)])];
    expect(needles.length).toBeGreaterThan(10);
    for (const needle of needles) expect(text).not.toContain(needle);
    expect(text).not.toMatch(/clvs_[A-Za-z0-9_-]{20,}/);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
  });
});
