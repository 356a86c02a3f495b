import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { jtiOf } from '../../../../test/support/jwt.js';
import { basic, post, revoke } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { until } from '../../../../test/support/until.js';

interface Registered {
  id: string;
  secret: string;
}

describe.each(dialects)('revocation (%s)', (dialect) => {
  let server: TestServer;
  let owner: Registered;
  let other: Registered;
  let publicClientId: string;

  async function register(input: Parameters<TestServer['createClient']>[0] = {}): Promise<Registered> {
    const { client, secret } = await server.createClient(input);
    return { id: client.id, secret: secret ?? '' };
  }

  async function tokenFor(client: Registered): Promise<string> {
    const res = await post(
      server,
      '/oauth/token',
      { grant_type: 'client_credentials' },
      {
        authorization: basic(client.id, client.secret),
      },
    );
    expect(res.statusCode).toBe(200);
    return res.json().access_token as string;
  }

  async function isActive(on: Pick<TestServer, 'app'>, caller: Registered, token: string): Promise<boolean> {
    const res = await post(
      on,
      '/oauth/introspect',
      { token },
      { authorization: basic(caller.id, caller.secret) },
    );
    expect(res.statusCode).toBe(200);
    return res.json().active as boolean;
  }

  /**
   * A revocation committed by another instance: refused at once on SQLite (`PRAGMA data_version`), on
   * PostgreSQL as soon as the change notification arrives (a bounded wait).
   */
  async function honouredBy(on: Pick<TestServer, 'app'>, caller: Registered, token: string): Promise<void> {
    if (dialect === 'sqlite') expect(await isActive(on, caller, token)).toBe(false);
    else await until(async () => !(await isActive(on, caller, token)), { withinMs: 2000, what: 'revoked' });
  }

  function revokedRows(jti: string) {
    return server.services.db.selectFrom('revoked_tokens').selectAll().where('jti', '=', jti).execute();
  }

  async function revokeAudits(jti: string) {
    await server.services.audit.drain();
    const rows = await server.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'token.revoke')
      .orderBy('seq')
      .execute();
    return rows.filter((r) => (JSON.parse(r.detail) as { jti?: string }).jti === jti);
  }

  function expectEmpty200(res: Awaited<ReturnType<typeof post>>): void {
    expect(res.statusCode).toBe(200);
    expect(res.payload).toBe('');
    expect(res.headers['cache-control']).toBe('no-store');
  }

  beforeAll(async () => {
    server = await createTestServer(dialect);
    owner = await register();
    other = await register();
    const pub = await server.createClient({ kind: 'public', grants: ['device_code'], scopes: ['read'] });
    publicClientId = pub.client.id;
  });
  afterAll(() => server.close());

  describe('200', () => {
    it('RI-01: a garbage token is 200 with an empty body, and nothing is recorded', async () => {
      const before = await server.services.db.selectFrom('revoked_tokens').select('jti').execute();
      for (const token of ['garbage', 'a.b.c', 'x'.repeat(9000)])
        expectEmpty200(await revoke(server, owner, token));
      const after = await server.services.db.selectFrom('revoked_tokens').select('jti').execute();
      expect(after).toEqual(before);
    });

    it('revokes its own token: introspection then says active:false, with the jti remembered until exp', async () => {
      const token = await tokenFor(owner);
      expect(await isActive(server, owner, token)).toBe(true);
      expectEmpty200(await revoke(server, owner, token));
      expect(await isActive(server, owner, token)).toBe(false);
      const exp = Math.floor(server.clock.now / 1000) + 600;
      expect(await revokedRows(jtiOf(token))).toEqual([
        { jti: jtiOf(token), client_id: owner.id, revoked_at: server.clock.now, expires_at: exp * 1000 },
      ]);
    });

    it('a revocation made on one instance is honoured by another on the same database', async () => {
      const second = await createTestServer(dialect, { database: server.database, clock: server.clock });
      try {
        const token = await tokenFor(owner);
        expect(await isActive(second, owner, token)).toBe(true);
        expectEmpty200(await revoke(server, owner, token));
        expect(await isActive(server, owner, token)).toBe(false);
        await honouredBy(second, owner, token);
        // And the other way round.
        const token2 = await tokenFor(owner);
        expectEmpty200(
          await post(
            second,
            '/oauth/revoke',
            { token: token2 },
            { authorization: basic(owner.id, owner.secret) },
          ),
        );
        await honouredBy(server, owner, token2);
      } finally {
        await second.close();
      }
    });

    it('revoking twice is 200 both times, and audited both times', async () => {
      const token = await tokenFor(owner);
      expectEmpty200(await revoke(server, owner, token));
      expectEmpty200(await revoke(server, owner, token));
      expect(await isActive(server, owner, token)).toBe(false);
      expect(await revokedRows(jtiOf(token))).toHaveLength(1);
      const audits = await revokeAudits(jtiOf(token));
      expect(
        audits.map((r) => (JSON.parse(r.detail) as { already_revoked: boolean }).already_revoked),
      ).toEqual([false, true]);
    });

    it('RI-03: a wrong or unknown token_type_hint does not stop the revocation', async () => {
      for (const hint of ['refresh_token', 'no_such_type', 'access_token']) {
        const token = await tokenFor(owner);
        expectEmpty200(await revoke(server, owner, token, { token_type_hint: hint }));
        expect(await isActive(server, owner, token)).toBe(false);
      }
    });

    it('an expired token is 200', async () => {
      const token = await tokenFor(owner);
      server.clock.advanceSeconds(601);
      try {
        expectEmpty200(await revoke(server, owner, token));
      } finally {
        server.clock.advanceSeconds(-601);
      }
    });

    it('writes a token.revoke audit record saying who revoked what, and never the token', async () => {
      const token = await tokenFor(owner);
      expectEmpty200(await revoke(server, owner, token, { token_type_hint: 'access_token' }));
      const [record, ...rest] = await revokeAudits(jtiOf(token));
      expect(rest).toEqual([]);
      expect(record).toMatchObject({
        event: 'token.revoke',
        outcome: 'success',
        actor_type: 'client',
        actor_id: owner.id,
        client_id: owner.id,
        at: server.clock.now,
      });
      expect(JSON.parse(record?.detail ?? '{}')).toEqual({
        jti: jtiOf(token),
        sub: owner.id,
        token_type: 'access_token',
        already_revoked: false,
        request_id: expect.any(String),
      });
      expect(JSON.stringify(record)).not.toContain(token.split('.')[2]);
    });

    it("a public client asking to revoke another client's token gets 200 and the token stays active", async () => {
      const token = await tokenFor(owner);
      expectEmpty200(await post(server, '/oauth/revoke', { token, client_id: publicClientId }));
      expect(await isActive(server, owner, token)).toBe(true);
      expect(await revokedRows(jtiOf(token))).toEqual([]);
    });
  });

  describe('400', () => {
    it("RI-02: a confidential client revoking another client's token is invalid_request; the token stays active", async () => {
      const token = await tokenFor(owner);
      const res = await revoke(server, other, token);
      expect(res.statusCode).toBe(400);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
      expect(await isActive(server, owner, token)).toBe(true);
      expect(await revokedRows(jtiOf(token))).toEqual([]);
      expect(await revokeAudits(jtiOf(token))).toEqual([]);
    });

    it('a missing token is invalid_request', async () => {
      const res = await post(server, '/oauth/revoke', {}, { authorization: basic(owner.id, owner.secret) });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    });
  });

  describe('401', () => {
    it('no client authentication is invalid_client, and the token stays active', async () => {
      const token = await tokenFor(owner);
      const res = await post(server, '/oauth/revoke', { token });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="clavis"/);
      expect(res.json()).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
      expect(await isActive(server, owner, token)).toBe(true);
    });

    it("a wrong secret is invalid_client, even for the owner's own token, which stays active", async () => {
      const token = await tokenFor(owner);
      const res = await post(
        server,
        '/oauth/revoke',
        { token },
        { authorization: basic(owner.id, 'clvs_wrong') },
      );
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('invalid_client');
      expect(await isActive(server, owner, token)).toBe(true);
      expect(await revokedRows(jtiOf(token))).toEqual([]);
    });
  });
});
