/**
 * Injection through token-endpoint parameters: SQL metacharacters in client_id and scope (BI-01) get a
 * clean 400/401 and leave the database as it was; input crafted to smuggle CR, LF or TAB into
 * `error_description` (BI-03) never gets them into the response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { unsecuredAssertion } from '../../../../test/support/jwt.js';
import { basic, form, post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import {
  expectInvalidClient,
  expectOAuthError,
  expectToken,
} from '../../../../test/support/oauth_answers.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { assertionRequest } from '../client_auth/assertion_kit.js';
import { expectClean } from './clean.js';

const SQL = [
  "' OR '1'='1",
  "' OR 1=1--",
  "x'; DROP TABLE clients; --",
  "x'); DELETE FROM client_secrets; --",
  '" OR ""="',
  "%' OR id LIKE '%",
  'svc_%',
  '*',
  "\\'; SELECT pg_sleep(5); --",
  "1; UPDATE clients SET disabled_at = 1 WHERE '1'='1",
  "' UNION SELECT id, hash FROM client_secrets --",
];

/** Characters RFC 6749 §5.2 allows in error_description. */
const DESCRIPTION_CHARS = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

describe.each(dialects)('token endpoint injection (%s)', (dialect) => {
  let server: TestServer;
  let clientId: string;
  let secret: string;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    const created = await server.createClient({ scopes: ['read', 'write'] });
    clientId = created.client.id;
    secret = created.secret ?? '';
  });
  afterAll(() => server.close());

  /** Every row of every table except the audit log (which failures append to, by design). */
  async function snapshot() {
    const db = server.services.db;
    return {
      clients: await db.selectFrom('clients').selectAll().orderBy('id').execute(),
      client_secrets: await db.selectFrom('client_secrets').selectAll().orderBy('id').execute(),
      users: await db.selectFrom('users').selectAll().orderBy('id').execute(),
      signing_keys: await db.selectFrom('signing_keys').selectAll().orderBy('kid').execute(),
      revoked_tokens: await db.selectFrom('revoked_tokens').selectAll().orderBy('jti').execute(),
      replay_guard: await db.selectFrom('replay_guard').selectAll().orderBy('key').execute(),
      // Failures are charged to the caller's address (auth_failure:…) by design; nothing else may change.
      rate_limits: (await db.selectFrom('rate_limits').selectAll().orderBy('key').execute()).filter(
        (r) => !r.key.startsWith('auth_failure:'),
      ),
      settings: await db.selectFrom('settings').selectAll().orderBy('key').execute(),
    };
  }

  async function auditEvents() {
    await server.services.audit.drain();
    return server.services.db
      .selectFrom('audit_events')
      .selectAll()
      .orderBy('segment')
      .orderBy('seq')
      .execute();
  }

  describe('BI-01: SQL metacharacters', () => {
    it.each(SQL)(
      'client_id %j gets a clean 401 through every way of presenting it; the database is untouched',
      async (injected) => {
        const before = await snapshot();
        const auditBefore = await auditEvents();

        const viaBasic = expectClean(
          await post(
            server,
            TOKEN_PATH,
            { grant_type: 'client_credentials' },
            { authorization: basic(injected, secret) },
          ),
        );
        expectInvalidClient(viaBasic, 'client authentication failed');
        const viaPost = expectClean(
          await post(server, TOKEN_PATH, {
            grant_type: 'client_credentials',
            client_id: injected,
            client_secret: secret,
          }),
        );
        expectInvalidClient(viaPost, 'client authentication failed');
        const alone = expectClean(
          await post(server, TOKEN_PATH, { grant_type: 'client_credentials', client_id: injected }),
        );
        expectInvalidClient(alone, 'client authentication failed');
        const now = Math.floor(server.clock.now / 1000);
        const assertion = unsecuredAssertion({
          iss: injected,
          sub: injected,
          aud: ISSUER,
          exp: now + 60,
          jti: 'j',
        });
        const viaAssertion = expectClean(await post(server, TOKEN_PATH, assertionRequest(assertion)));
        expectInvalidClient(viaAssertion, 'client authentication failed');
        const appended = expectClean(
          await post(
            server,
            TOKEN_PATH,
            { grant_type: 'client_credentials' },
            {
              authorization: basic(`${clientId}${injected}`, secret),
            },
          ),
        );
        expectInvalidClient(appended, 'client authentication failed');

        expect(await snapshot()).toEqual(before);
        await server.failures.flush();
        const auditAfter = await auditEvents();
        // The audit log only grew, by failure records standing for the 5 attempts (alike ones
        // aggregated with a count).
        expect(auditAfter.slice(0, auditBefore.length)).toEqual(auditBefore);
        const added = auditAfter.slice(auditBefore.length);
        expect(added.every((r) => r.event === 'client.auth_failed' && r.outcome === 'failure')).toBe(true);
        const count = (r: { detail: string }) => (JSON.parse(r.detail) as { count?: number }).count ?? 1;
        expect(added.reduce((sum, r) => sum + count(r), 0)).toBe(5);
        expect(added.every((r) => r.client_id === null)).toBe(true);
      },
    );

    it.each(SQL)('scope %j gets a clean invalid_scope; the database is untouched', async (injected) => {
      const before = await snapshot();
      const res = expectClean(
        await post(
          server,
          TOKEN_PATH,
          { grant_type: 'client_credentials', scope: injected },
          {
            authorization: basic(clientId, secret),
          },
        ),
      );
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_scope');
      expect(await snapshot()).toEqual(before);
    });

    it('the real client still authenticates afterwards, with its own scopes only', async () => {
      const res = await post(
        server,
        TOKEN_PATH,
        { grant_type: 'client_credentials' },
        { authorization: basic(clientId, secret) },
      );
      expect(expectToken(res).scope).toBe('read write');
    });
  });

  describe('BI-03: CR/LF/TAB never reach error_description', () => {
    const names = [
      'a\r\nb',
      'x\ny',
      'tab\there',
      'cr\rhere',
      'ls\u2028ps\u2029',
      'nel\u0085',
      'q"uo\\te',
      'esc\u001b[31m',
    ];

    function expectNoControl(body: string): void {
      const controls = [...body].filter((c) => {
        const code = c.codePointAt(0) ?? 0;
        return code < 0x20 || code === 0x7f || code === 0x85 || code === 0x2028 || code === 0x2029;
      });
      expect(controls).toEqual([]);
      expect(body).not.toMatch(/\\[rntu]/); // nor escaped inside the JSON string
      const description = JSON.parse(body).error_description;
      if (description !== undefined) expect(description).toMatch(DESCRIPTION_CHARS);
    }

    it.each(names.map((n) => [JSON.stringify(n), n]))(
      'a repeated parameter named %s',
      async (_label, name) => {
        const body = form([
          ['grant_type', 'client_credentials'],
          [name, 'v'],
          [name, 'v'],
        ]);
        const res = expectClean(
          await post(server, TOKEN_PATH, body, { authorization: basic(clientId, secret) }),
        );
        expect(res.statusCode).toBe(400);
        expect(res.json().error).toBe('invalid_request');
        expect(res.json().error_description).toMatch(/^parameter .* is repeated$/);
        expectNoControl(res.body);
      },
    );

    it.each(names.map((n) => [JSON.stringify(n), n]))(
      'CR/LF in grant_type, scope, client_id and resource (%s)',
      async (_label, bad) => {
        const auth = { authorization: basic(clientId, secret) };
        const attempts = [
          await post(server, TOKEN_PATH, { grant_type: `client_credentials${bad}` }, auth),
          await post(
            server,
            TOKEN_PATH,
            { grant_type: 'client_credentials', scope: `read${bad}write` },
            auth,
          ),
          await post(
            server,
            TOKEN_PATH,
            { grant_type: 'client_credentials', scope: `read${bad.replace(/\s/g, '')}` },
            auth,
          ),
          await post(
            server,
            TOKEN_PATH,
            { grant_type: 'client_credentials', resource: `https://rs${bad}` },
            auth,
          ),
          await post(server, TOKEN_PATH, {
            grant_type: 'client_credentials',
            client_id: `c${bad}`,
            client_secret: 's',
          }),
          await post(
            server,
            TOKEN_PATH,
            { grant_type: 'client_credentials' },
            { authorization: basic(`c${bad}`, `s${bad}`) },
          ),
        ];
        for (const res of attempts) {
          expectClean(res);
          expectNoControl(res.body);
          for (const value of Object.values(res.headers)) expect(String(value)).not.toMatch(/[\r\n]/);
        }
      },
    );

    it('a repeated parameter with a 10,000-character name gets a short description', async () => {
      const name = `${'n'.repeat(10_000)}\r\n`;
      const res = expectClean(
        await post(
          server,
          TOKEN_PATH,
          form([
            ['grant_type', 'client_credentials'],
            [name, '1'],
            [name, '2'],
          ]),
          {
            authorization: basic(clientId, secret),
          },
        ),
      );
      expectOAuthError(res, 400, 'invalid_request', `parameter '${'n'.repeat(40)}' is repeated`);
    });
  });
});
