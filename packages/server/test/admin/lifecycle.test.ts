/**
 * The lifecycle of clients, people, federations and API keys over real storage, on each dialect: update
 * (validated as create), disable and enable, secrets listed and revoked at once, a person's password,
 * ceiling and sessions, a key's limits, and a workload token evaluated against one federation condition
 * by condition. Every change commits with its audit record; every refusal changes nothing.
 */
import {
  AdminError,
  adminApiKeys,
  adminClientSecrets,
  adminClients,
  adminFederations,
  adminUsers,
} from '@clavis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { jwksOf, newClientKey, signAssertion } from '../../../../test/support/jwt.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { verifyPassword } from '../../src/crypto/passwords.js';

const actor = { type: 'admin' as const, id: 'os:tester@host', ip: null, userAgent: 'clavis-cli' };
const GITHUB = 'https://token.actions.githubusercontent.com';

describe.each(dialects)('admin lifecycle (%s)', (dialect) => {
  let server: TestServer;
  let deps: adminClients.AdminDeps & { totpKey: Buffer };
  let keyDeps: adminApiKeys.ApiKeyAdminDeps;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    deps = {
      db: server.services.db,
      audit: server.services.audit,
      hasher: server.services.hasher,
      clock: server.clock.read,
      maxAccessTokenTtlSeconds: server.config.maxAccessTokenTtlSeconds,
      defaultAccessTokenTtlSeconds: server.config.defaultAccessTokenTtlSeconds,
      totpKey: server.services.totpKey,
    };
    keyDeps = { ...deps, apiKeyMaxTtlSeconds: 90 * 86_400 };
  });
  afterAll(() => server.close());

  const db = () => server.services.db;
  const lastAudit = (event: string) =>
    db()
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', event)
      .where('outcome', '=', 'success')
      .orderBy('at', 'desc')
      .orderBy('seq', 'desc')
      .executeTakeFirstOrThrow();
  async function refused(p: Promise<unknown>, code: AdminError['code'], message: RegExp) {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AdminError);
    expect((err as AdminError).code).toBe(code);
    expect((err as AdminError).message).toMatch(message);
  }

  describe('clients', () => {
    it('update changes what is given, validated as create, and records each change', async () => {
      const { client } = await server.createClient({ name: 'svc', scopes: ['a', 'b'] });
      const updated = await adminClients.updateClient(
        deps,
        client.id,
        { name: 'renamed', scopes: ['a'], tokenTtlSeconds: 120, audiences: ['https://api.test'] },
        actor,
      );
      expect(updated).toMatchObject({
        name: 'renamed',
        scopes: ['a'],
        tokenTtlSeconds: 120,
        audiences: ['https://api.test'],
        grantTypes: ['client_credentials'],
      });
      const record = await lastAudit('client.update');
      expect(JSON.parse(record.detail)).toEqual({
        changes: {
          name: { from: 'svc', to: 'renamed' },
          scopes: { from: ['a', 'b'], to: ['a'] },
          token_ttl: { from: 600, to: 120 },
          audiences: { from: [], to: ['https://api.test'] },
        },
      });
    });

    it.each([
      [{}, /nothing to change/],
      [{ name: 'x\u0000' }, /name must be/],
      [{ scopes: ['bad scope'] }, /not a valid scope token/],
      [{ tokenTtlSeconds: 5 }, /between 30s and/],
      [{ grants: ['implicit'] }, /unknown grant type "implicit"/],
      [{ refreshIdleTtlSeconds: 3600 }, /needs the refresh_token grant/],
      [{ audiences: ['a b'] }, /audience is malformed/],
    ])('update refuses %j and changes nothing', async (input, message) => {
      const { client } = await server.createClient({ name: 'keep', scopes: ['a'] });
      await refused(adminClients.updateClient(deps, client.id, input, actor), 'invalid_input', message);
      expect(await adminClients.showClient(deps, client.id)).toEqual(client);
    });

    it('a public client may not gain client_credentials; an unknown client is not found', async () => {
      const { client } = await server.createClient({ name: 'pub', kind: 'public' });
      await refused(
        adminClients.updateClient(deps, client.id, { grants: ['client_credentials'] }, actor),
        'invalid_input',
        /needs a confidential client/,
      );
      await refused(
        adminClients.updateClient(deps, 'svc_nope', { name: 'x' }, actor),
        'not_found',
        /no client/,
      );
    });

    it('disable stops the secret authenticating; enable restores it; twice is a conflict', async () => {
      const { client, secret } = await server.createClient({ name: 'off', scopes: ['a'] });
      const basic = `Basic ${Buffer.from(`${client.id}:${secret}`).toString('base64')}`;
      const token = () =>
        server.app.inject({
          method: 'POST',
          url: '/oauth/token',
          headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'grant_type=client_credentials',
        });
      expect((await token()).statusCode).toBe(200);
      const disabled = await adminClients.disableClient(deps, client.id, actor);
      expect(disabled.disabledAt).not.toBeNull();
      expect((await token()).statusCode).toBe(401);
      await refused(adminClients.disableClient(deps, client.id, actor), 'conflict', /already disabled/);
      await adminClients.enableClient(deps, client.id, actor);
      expect((await token()).statusCode).toBe(200);
      await refused(adminClients.enableClient(deps, client.id, actor), 'conflict', /already enabled/);
      await refused(
        adminClients.disableClient(deps, 'clavis-cli', actor),
        'invalid_input',
        /cannot be disabled/,
      );
    });

    it('concurrent disables: exactly one succeeds, the other is a conflict', async () => {
      const { client } = await server.createClient({ name: 'twice', scopes: ['a'] });
      const results = await Promise.allSettled([
        adminClients.disableClient(deps, client.id, actor),
        adminClients.disableClient(deps, client.id, actor),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const [failure] = results.filter((r) => r.status === 'rejected');
      expect((failure as PromiseRejectedResult).reason).toBeInstanceOf(AdminError);
    });

    it('secrets list never shows a secret; revoke stops one at once, not after a grace', async () => {
      const { client, secret } = await server.createClient({ name: 'sec', scopes: ['a'] });
      const rotated = await adminClients.rotateClientSecret(deps, client.id, { graceSeconds: 3600 }, actor);
      const listed = await adminClientSecrets.listSecrets(deps, client.id);
      expect(listed).toHaveLength(2);
      expect(listed.map((s) => s.state)).toEqual(['active', 'active']);
      expect(JSON.stringify(listed)).not.toContain(secret as string);
      expect(JSON.stringify(listed)).not.toContain(rotated.secret);
      // The secret the rotation left a grace period: the one with an expiry.
      const old = listed.find((s) => s.expires_at !== null)?.id as string;
      const revoked = await adminClientSecrets.revokeSecret(deps, client.id, old, actor);
      expect(revoked).toMatchObject({ id: old, state: 'revoked' });
      const basic = `Basic ${Buffer.from(`${client.id}:${secret}`).toString('base64')}`;
      const res = await server.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'grant_type=client_credentials',
      });
      expect(res.statusCode).toBe(401);
      await refused(
        adminClientSecrets.revokeSecret(deps, client.id, old, actor),
        'conflict',
        /already revoked/,
      );
      await refused(
        adminClientSecrets.revokeSecret(deps, client.id, 'sec_nope', actor),
        'not_found',
        /has no secret sec_nope/,
      );
      expect(JSON.parse((await lastAudit('client.secret_revoke')).detail)).toEqual({
        secret_id: old,
        was: 'active',
      });
    });
  });

  describe('people', () => {
    it("a new person's generated password is one-time; a given one is not", async () => {
      const generated = await adminUsers.createUser(deps, { username: 'otp-person' }, actor);
      expect(generated.user.must_change_password).toBe(true);
      const given = await adminUsers.createUser(
        deps,
        { username: 'given-person', password: 'correct horse battery' },
        actor,
      );
      expect(given.user.must_change_password).toBe(false);
    });

    it('set-password: generated is one-time and ends browser sessions; given is checked', async () => {
      const { user } = await adminUsers.createUser(
        deps,
        { username: 'pw', password: 'first password!' },
        actor,
      );
      const now = server.clock.now;
      await db()
        .insertInto('sessions')
        .values({
          id: 'ses_pw',
          csrf_token: 'c',
          user_id: user.id,
          password_at: now,
          mfa_at: null,
          created_at: now,
          expires_at: now + 900_000,
        })
        .execute();
      const result = await adminUsers.setPassword(deps, 'pw', {}, actor);
      expect(result.password).toMatch(/^.{20,}$/);
      expect(result.user.must_change_password).toBe(true);
      const row = await db()
        .selectFrom('users')
        .selectAll()
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(await verifyPassword(result.password as string, row.password_hash as string)).toBe(true);
      expect(await db().selectFrom('sessions').select('id').where('user_id', '=', user.id).execute()).toEqual(
        [],
      );
      const audited = (await lastAudit('user.set_password')).detail;
      expect(audited).not.toContain(result.password as string);

      const again = await adminUsers.setPassword(deps, 'pw', { password: 'second password!' }, actor);
      expect(again.password).toBeUndefined();
      expect(again.user.must_change_password).toBe(false);
      await refused(
        adminUsers.setPassword(deps, 'pw', { password: 'short' }, actor),
        'invalid_input',
        /at least 12/,
      );
      await refused(adminUsers.setPassword(deps, 'nobody', {}, actor), 'not_found', /no user nobody/);
    });

    it('set-scopes replaces the ceiling, refusing malformed scopes and keys:mint', async () => {
      await adminUsers.createUser(deps, { username: 'ceil', scopes: ['a', 'b'] }, actor);
      expect((await adminUsers.setScopes(deps, 'ceil', ['a'], actor)).scopes).toEqual(['a']);
      await refused(adminUsers.setScopes(deps, 'ceil', ['keys:mint'], actor), 'invalid_input', /keys:mint/);
      await refused(adminUsers.setScopes(deps, 'ceil', ['a b'], actor), 'invalid_input', /malformed/);
      expect((await adminUsers.showUser(deps, 'ceil')).scopes).toEqual(['a']);
    });

    it('enable lets a disabled person back; sessions lists live families; revoke-sessions ends them', async () => {
      const { user } = await adminUsers.createUser(deps, { username: 'sess' }, actor);
      await refused(adminUsers.enableUser(deps, 'sess', actor), 'conflict', /not disabled/);
      await adminUsers.disableUser(deps, 'sess', actor);
      expect((await adminUsers.enableUser(deps, 'sess', actor)).disabled_at).toBeNull();

      const now = server.clock.now;
      const family = (id: string, expiresAt: number, revokedAt: number | null = null) => ({
        id,
        client_id: 'clavis-cli',
        user_id: user.id,
        scopes: '["openid"]',
        created_at: now - 60_000,
        expires_at: expiresAt,
        revoked_at: revokedAt,
        revoked_reason: revokedAt ? 'reuse' : null,
      });
      await db()
        .insertInto('token_families')
        .values([
          family('fam_live', now + 86_400_000),
          family('fam_gone', now + 86_400_000, now - 1),
          family('fam_over', now - 1),
        ])
        .execute();
      const token = (id: string, familyId: string, idle: number, rotatedAt: number | null) => ({
        id,
        token_hash: `hash_${id}`,
        family_id: familyId,
        created_at: now - 60_000,
        idle_expires_at: idle,
        rotated_at: rotatedAt,
      });
      await db()
        .insertInto('refresh_tokens')
        .values([
          token('rt_1', 'fam_live', now + 1000, now - 30_000),
          token('rt_2', 'fam_live', now + 3_600_000, null),
          token('rt_3', 'fam_gone', now + 3_600_000, null),
          token('rt_4', 'fam_over', now + 3_600_000, null),
        ])
        .execute();
      await db()
        .insertInto('family_access_tokens')
        .values({ jti: 'jti_sess', family_id: 'fam_live', expires_at: now + 600_000 })
        .execute();

      const { sessions } = await adminUsers.listSessions(deps, 'sess');
      expect(sessions).toEqual([
        {
          family_id: 'fam_live',
          client_id: 'clavis-cli',
          scopes: ['openid'],
          created_at: new Date(now - 60_000).toISOString(),
          last_used_at: new Date(now - 30_000).toISOString(),
          expires_at: new Date(now + 3_600_000).toISOString(),
        },
      ]);
      const { revokedFamilies } = await adminUsers.revokeSessions(deps, 'sess', actor);
      // Every family not yet revoked, the one past its end included.
      expect(revokedFamilies).toBe(2);
      expect((await adminUsers.listSessions(deps, 'sess')).sessions).toEqual([]);
      const revoked = await db()
        .selectFrom('revoked_tokens')
        .select('jti')
        .where('jti', '=', 'jti_sess')
        .execute();
      expect(revoked).toHaveLength(1);
      expect((await adminUsers.showUser(deps, 'sess')).disabled_at).toBeNull();
      expect((await adminUsers.revokeSessions(deps, 'sess', actor)).revokedFamilies).toBe(0);
    });
  });

  describe('federations', () => {
    async function federation() {
      const { client } = await server.createClient({ name: 'deployer', scopes: ['deploy', 'read'] });
      const key = await newClientKey('RS256');
      const created = await adminFederations.createFederation(
        deps,
        {
          clientId: client.id,
          preset: 'github-actions',
          audience: 'https://as.clavis.test',
          conditions: [
            { claim: 'repository', pattern: 'acme/app' },
            { claim: 'ref', pattern: 'refs/heads/main' },
          ],
          jwks: jwksOf(key),
        },
        actor,
      );
      return { created, key, client };
    }
    const claims = (now: number, extra: Record<string, unknown> = {}) => ({
      iss: GITHUB,
      aud: 'https://as.clavis.test',
      sub: 'repo:acme/app:ref:refs/heads/main',
      repository: 'acme/app',
      ref: 'refs/heads/main',
      iat: Math.floor(now / 1000),
      exp: Math.floor(now / 1000) + 300,
      ...extra,
    });

    it('update replaces conditions (checked as create) and scopes within the client', async () => {
      const { created } = await federation();
      const updated = await adminFederations.updateFederation(
        deps,
        created.id,
        {
          conditions: [{ claim: 'repository', pattern: 'acme/other' }],
          scopes: ['read'],
          maxTtlSeconds: 300,
        },
        actor,
      );
      expect(updated).toMatchObject({
        conditions: [{ claim: 'repository', pattern: 'acme/other' }],
        scopes: ['read'],
        maxTtlSeconds: 300,
      });
      await refused(
        adminFederations.updateFederation(
          deps,
          created.id,
          { conditions: [{ claim: 'ref', pattern: '*' }] },
          actor,
        ),
        'invalid_input',
        /pin the subject/,
      );
      await refused(
        adminFederations.updateFederation(deps, created.id, { scopes: ['admin'] }, actor),
        'invalid_input',
        /outside the client's ceiling/,
      );
      await refused(
        adminFederations.updateFederation(deps, created.id, {}, actor),
        'invalid_input',
        /nothing/,
      );
      await refused(
        adminFederations.updateFederation(deps, created.id, { audience: 'a b' }, actor),
        'invalid_input',
        /audience/,
      );
      await refused(
        adminFederations.updateFederation(deps, created.id, { jwksUri: 'http://example.com/jwks' }, actor),
        'invalid_input',
        /https/,
      );
      expect((await adminFederations.showFederation(deps, created.id)).scopes).toEqual(['read']);
    });

    it('test reports every condition by name; a passing token passes and nothing is recorded', async () => {
      const { created, key } = await federation();
      const now = server.clock.now;
      const before = await db()
        .selectFrom('audit_events')
        .select(db().fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      const good = await adminFederations.testFederation(
        deps,
        created.id,
        await signAssertion(key, claims(now)),
      );
      expect(good.pass).toBe(true);
      expect(good.results.map((r) => r.name)).toEqual([
        'federation_enabled',
        'principal',
        'token_format',
        'issuer',
        'algorithm',
        'signature',
        'audience',
        'expiry',
        'issued_at',
        'subject',
        'claim repository',
        'claim ref',
        'subject_pinning',
      ]);
      const after = await db()
        .selectFrom('audit_events')
        .select(db().fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(Number(before.n));

      const wrong = await adminFederations.testFederation(
        deps,
        created.id,
        await signAssertion(
          key,
          claims(now, { ref: 'refs/heads/dev', aud: 'other', exp: Math.floor(now / 1000) - 3600 }),
        ),
      );
      expect(wrong.pass).toBe(false);
      expect(wrong.results.filter((r) => !r.pass).map((r) => r.name)).toEqual([
        'audience',
        'expiry',
        'claim ref',
      ]);

      const other = await newClientKey('RS256');
      const forged = await adminFederations.testFederation(
        deps,
        created.id,
        await signAssertion(other, claims(now)),
      );
      expect(forged.results.filter((r) => !r.pass).map((r) => r.name)).toEqual(['signature']);

      const garbage = await adminFederations.testFederation(deps, created.id, 'not.a.jwt');
      expect(garbage.results.find((r) => r.name === 'token_format')?.pass).toBe(false);
      const huge = await adminFederations.testFederation(deps, created.id, 'a'.repeat(20_000));
      expect(huge.results.find((r) => r.name === 'token_format')?.detail).toMatch(/larger than/);
    });

    it('disable stops it (test says so), enable restores it, twice is a conflict', async () => {
      const { created, key } = await federation();
      await adminFederations.disableFederation(deps, created.id, actor);
      await refused(
        adminFederations.disableFederation(deps, created.id, actor),
        'conflict',
        /already disabled/,
      );
      const token = await signAssertion(key, claims(server.clock.now));
      const result = await adminFederations.testFederation(deps, created.id, token);
      expect(result.results.filter((r) => !r.pass).map((r) => r.name)).toEqual(['federation_enabled']);
      await adminFederations.enableFederation(deps, created.id, actor);
      expect((await adminFederations.testFederation(deps, created.id, token)).pass).toBe(true);
      await refused(adminFederations.enableFederation(deps, 'fed_nope', actor), 'not_found', /no federation/);
    });
  });

  describe('API keys', () => {
    it('update changes limits; expiry only earlier, scopes only narrower', async () => {
      const { client } = await server.createClient({ name: 'keyowner', scopes: ['a', 'b'] });
      const { key } = await adminApiKeys.createApiKey(
        keyDeps,
        { owner: client.id, scopes: ['a', 'b'], ttlSeconds: 86_400 },
        actor,
      );
      const now = server.clock.now;
      const updated = await adminApiKeys.updateApiKey(
        keyDeps,
        key.id,
        { cidrs: ['10.0.0.0/8'], maxUses: 5, rateLimit: 10, expiresAt: now + 3_600_000, scopes: ['a'] },
        actor,
      );
      expect(updated).toMatchObject({
        cidrs: ['10.0.0.0/8'],
        max_uses: 5,
        rate_limit: 10,
        scopes: ['a'],
        expires_at: new Date(now + 3_600_000).toISOString(),
      });
      await refused(
        adminApiKeys.updateApiKey(keyDeps, key.id, { expiresAt: now + 7_200_000 }, actor),
        'invalid_input',
        /only move earlier/,
      );
      await refused(
        adminApiKeys.updateApiKey(keyDeps, key.id, { scopes: ['b'] }, actor),
        'invalid_input',
        /only narrow/,
      );
      await refused(
        adminApiKeys.updateApiKey(keyDeps, key.id, { cidrs: ['10.0.0.1/8'] }, actor),
        'invalid_input',
        /./,
      );
      await refused(
        adminApiKeys.updateApiKey(keyDeps, key.id, { maxUses: 0 }, actor),
        'invalid_input',
        /max uses/,
      );
      await refused(adminApiKeys.updateApiKey(keyDeps, key.id, {}, actor), 'invalid_input', /nothing/);
      await refused(
        adminApiKeys.updateApiKey(keyDeps, key.id, { expiresAt: now - 1 }, actor),
        'invalid_input',
        /future/,
      );
      await adminApiKeys.revokeApiKey(keyDeps, key.id, actor);
      await refused(adminApiKeys.updateApiKey(keyDeps, key.id, { maxUses: 3 }, actor), 'conflict', /revoked/);
    });

    it('concurrent updates of one expiry: it only ever moves earlier', async () => {
      const { client } = await server.createClient({ name: 'race', scopes: ['a'] });
      const { key } = await adminApiKeys.createApiKey(
        keyDeps,
        { owner: client.id, scopes: ['a'], ttlSeconds: 86_400 },
        actor,
      );
      const now = server.clock.now;
      const results = await Promise.allSettled(
        [3_600_000, 7_200_000].map((ms) =>
          adminApiKeys.updateApiKey(keyDeps, key.id, { expiresAt: now + ms }, actor),
        ),
      );
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      const shown = await adminApiKeys.showApiKey(keyDeps, key.id);
      // Whichever order they ran in, the later expiry never overwrote the earlier one once it was set.
      const applied = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.expires_at] : []));
      expect(applied).toContain(shown.expires_at);
      if (results.every((r) => r.status === 'fulfilled'))
        expect(shown.expires_at).toBe(new Date(now + 3_600_000).toISOString());
    });

    it('a key of a disabled owner lists as owner_disabled', async () => {
      const { client } = await server.createClient({ name: 'soon-off', scopes: ['a'] });
      const { key } = await adminApiKeys.createApiKey(
        keyDeps,
        { owner: client.id, scopes: ['a'], ttlSeconds: 3600 },
        actor,
      );
      expect(key.state).toBe('active');
      await adminClients.disableClient(deps, client.id, actor);
      expect((await adminApiKeys.showApiKey(keyDeps, key.id)).state).toBe('owner_disabled');
      const listed = await adminApiKeys.listApiKeys(keyDeps, { owner: client.id });
      expect(listed.map((k) => k.state)).toEqual(['owner_disabled']);
    });
  });
});
