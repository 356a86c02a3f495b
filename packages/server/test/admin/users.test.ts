/**
 * Administering people (admin/users.ts) over real storage: passwords stored only as scrypt hashes, TOTP
 * secrets returned once, usernames kept apart from client ids (CC-02), and disable / reset-mfa / unlock
 * each changing exactly what they say, in one transaction with their audit record.
 */
import { AdminError, adminClients, adminUsers } from '@clavis/server';
import { Secret, TOTP, URI } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { verifyPassword } from '../../src/crypto/passwords.js';
import { addPasskey } from '../../src/users/passkeys.js';
import { openTotpSecret } from '../../src/users/totp_secret.js';

const actor = { type: 'admin' as const, id: 'os:tester@host', ip: null, userAgent: 'clavis-cli' };

describe.each(dialects)('admin users (%s)', (dialect) => {
  let server: TestServer;
  let deps: adminUsers.UserAdminDeps;
  let clientDeps: adminClients.AdminDeps;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    deps = {
      db: server.services.db,
      audit: server.services.audit,
      clock: server.clock.read,
      totpKey: server.services.totpKey,
    };
    clientDeps = {
      ...deps,
      hasher: server.services.hasher,
      maxAccessTokenTtlSeconds: server.config.maxAccessTokenTtlSeconds,
      defaultAccessTokenTtlSeconds: server.config.defaultAccessTokenTtlSeconds,
    };
  });
  afterAll(() => server.close());

  const db = () => server.services.db;
  const userRow = (id: string) =>
    db().selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const auditRows = (event: string) =>
    db().selectFrom('audit_events').selectAll().where('event', '=', event).orderBy('at').execute();
  const counts = async () => ({
    users: Number(
      (await db().selectFrom('users').select(db().fn.countAll().as('n')).executeTakeFirstOrThrow()).n,
    ),
    // Changes recorded; a refusal is recorded too, as a failure, and changes nothing.
    audit: Number(
      (
        await db()
          .selectFrom('audit_events')
          .select(db().fn.countAll().as('n'))
          .where('outcome', '=', 'success')
          .executeTakeFirstOrThrow()
      ).n,
    ),
  });
  async function expectAdminError(p: Promise<unknown>, code: AdminError['code'], message: string | RegExp) {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AdminError);
    expect((err as AdminError).code).toBe(code);
    if (typeof message === 'string') expect((err as AdminError).message).toBe(message);
    else expect((err as AdminError).message).toMatch(message);
  }

  describe('create', () => {
    it('generates a 24-character password, returned once and stored only as an scrypt hash', async () => {
      const created = await adminUsers.createUser(deps, { username: 'alice' }, actor);
      expect(created.password).toMatch(/^[a-zA-Z2-9]{24}$/);
      expect(created.totpSecret).toBeUndefined();
      expect(created.user).toEqual({
        id: expect.stringMatching(/^usr_[A-Za-z0-9_-]{22}$/),
        username: 'alice',
        is_admin: false,
        has_totp: false,
        has_passkey: false,
        created_at: new Date(server.clock.now).toISOString(),
        disabled_at: null,
        locked_at: null,
        locked_until: null,
        failed_logins: 0,
        failed_mfa: 0,
        scopes: null,
        // Generated: one-time, replaced at the first sign-in.
        must_change_password: true,
      });
      const row = await userRow(created.user.id);
      expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
      expect(await verifyPassword(created.password ?? '', row.password_hash ?? '')).toBe(true);
      expect(await verifyPassword(`${created.password}x`, row.password_hash ?? '')).toBe(false);
      expect(row.totp_secret).toBeNull();

      const password = created.password ?? '';
      const everything = JSON.stringify({
        users: await db().selectFrom('users').selectAll().execute(),
        audit: await db().selectFrom('audit_events').selectAll().execute(),
      });
      expect(everything).not.toContain(password);

      const [record] = (await auditRows('user.create')).filter((r) => r.detail.includes(created.user.id));
      expect(record).toMatchObject({ outcome: 'success', actor_type: 'admin', actor_id: 'os:tester@host' });
      expect(JSON.parse(record?.detail ?? '{}')).toEqual({
        user_id: created.user.id,
        username: 'alice',
        is_admin: false,
        totp: false,
        password: 'generated',
      });
    });

    it('takes a given password (12 to 1024 characters) and returns none', async () => {
      const password = 'correct horse battery';
      const created = await adminUsers.createUser(deps, { username: 'bob', password, isAdmin: true }, actor);
      expect(created).not.toHaveProperty('password');
      expect(created.user.is_admin).toBe(true);
      const row = await userRow(created.user.id);
      expect(await verifyPassword(password, row.password_hash ?? '')).toBe(true);
      expect(row.is_admin).toBe(1);
      const longest = 'x'.repeat(1024);
      const long = await adminUsers.createUser(deps, { username: 'bob.long', password: longest }, actor);
      expect(await verifyPassword(longest, (await userRow(long.user.id)).password_hash ?? '')).toBe(true);
    });

    it.each([
      ['', 'the password is empty'],
      ['elevenchars', 'the password must be at least 12 characters'],
      ['x'.repeat(1025), 'the password must be at most 1024 characters'],
    ])('refuses the password %j and writes nothing', async (password, message) => {
      const before = await counts();
      await expectAdminError(
        adminUsers.createUser(deps, { username: 'shortpw', password }, actor),
        'invalid_input',
        message,
      );
      expect(await counts()).toEqual(before);
    });

    it('with totp: the returned secret makes codes the stored secret accepts, and the URI parses', async () => {
      const created = await adminUsers.createUser(deps, { username: 'carol@example.com', totp: true }, actor);
      expect(created.totpSecret).toMatch(/^[A-Z2-7]{32}$/); // 20 bytes in base32
      expect(created.user.has_totp).toBe(true);
      const row = await userRow(created.user.id);
      // Sealed at rest: the row holds no usable secret, and it opens to the one printed.
      expect(row.totp_secret).not.toContain(created.totpSecret ?? '-');
      expect(openTotpSecret(server.services.totpKey, created.user.id, row.totp_secret ?? '')).toBe(
        created.totpSecret,
      );

      const code = TOTP.generate({
        secret: Secret.fromBase32(created.totpSecret ?? ''),
        timestamp: server.clock.now,
      });
      const stored = new TOTP({
        secret: Secret.fromBase32(
          openTotpSecret(server.services.totpKey, created.user.id, row.totp_secret ?? ''),
        ),
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
      });
      expect(stored.validate({ token: code, timestamp: server.clock.now, window: 0 })).toBe(0);
      const other = new TOTP({ secret: new Secret({ size: 20 }) });
      expect(other.validate({ token: code, timestamp: server.clock.now, window: 0 })).toBeNull();

      const parsed = URI.parse(created.totpUri ?? '');
      expect(parsed).toBeInstanceOf(TOTP);
      expect(parsed).toMatchObject({
        issuer: 'Clavis',
        label: 'carol@example.com',
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
      });
      expect((parsed as TOTP).secret.base32).toBe(created.totpSecret);
      expect(created.totpUri).toMatch(/^otpauth:\/\/totp\/Clavis:carol%40example\.com\?/);

      // Nowhere else: not in the audit log.
      const audit = JSON.stringify(await db().selectFrom('audit_events').selectAll().execute());
      expect(audit).not.toContain(created.totpSecret);
      expect(audit).not.toContain(created.password);
    });

    it('refuses a username that is taken, also in another case, and writes nothing', async () => {
      const before = await counts();
      await expectAdminError(
        adminUsers.createUser(deps, { username: 'alice' }, actor),
        'conflict',
        'a user named alice already exists',
      );
      await expectAdminError(
        adminUsers.createUser(deps, { username: 'ALICE' }, actor),
        'conflict',
        'a user named alice already exists',
      );
      expect(await counts()).toEqual(before);
    });

    it('Ada and ada created at once: the unique index on lower(username) lets one in, the other gets a clean conflict', async () => {
      // Past the early check for both (neither exists yet), so the index alone decides.
      const results = await Promise.allSettled([
        adminUsers.createUser(deps, { username: 'Ada', password: 'a long enough password' }, actor),
        adminUsers.createUser(deps, { username: 'ada', password: 'a long enough password' }, actor),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.find((r) => r.status === 'rejected')?.reason as AdminError;
      expect(refused).toBeInstanceOf(AdminError);
      expect(refused.code).toBe('conflict');
      expect(refused.message).toMatch(/^a user named (Ada|ada) already exists$/);
      const rows = await db()
        .selectFrom('users')
        .select('username')
        .where('username', 'in', ['Ada', 'ada'])
        .execute();
      expect(rows).toHaveLength(1);
    });

    it("CC-02 (the other way round): refuses a username equal to a client's client_id", async () => {
      const { client } = await server.createClient({ name: 'svc', id: 'deploy-bot' });
      const before = await counts();
      await expectAdminError(
        adminUsers.createUser(deps, { username: client.id }, actor),
        'invalid_input',
        "username deploy-bot is a client's client_id; choose another",
      );
      expect(await counts()).toEqual(before);
    });

    it("CC-02: a client cannot be registered with a user's id or username", async () => {
      const { user } = await adminUsers.createUser(deps, { username: 'dave' }, actor);
      for (const id of ['dave', user.id]) {
        await expect(
          adminClients.createClient(clientDeps, { name: 'x', kind: 'confidential', id }, actor),
        ).rejects.toBeInstanceOf(AdminError);
      }
      expect(
        await db().selectFrom('clients').select('id').where('id', 'in', ['dave', user.id]).execute(),
      ).toEqual([]);
    });

    it.each([
      ['', /^username must be 1 to 64 characters/],
      ['a'.repeat(65), /^username must be 1 to 64 characters/],
      ['with space', /^username must be 1 to 64 characters/],
      ['slash/name', /^username must be 1 to 64 characters/],
      ['ünïcode', /^username must be 1 to 64 characters/],
      ['new\nline', /^username must be 1 to 64 characters/],
      ['usr_lookslikeanid', /^username must not start with usr_$/],
    ])('refuses the username %j and writes nothing', async (username, message) => {
      const before = await counts();
      await expectAdminError(adminUsers.createUser(deps, { username }, actor), 'invalid_input', message);
      expect(await counts()).toEqual(before);
    });

    it('accepts the full username alphabet up to 64 characters', async () => {
      const username = `A-z_0.9@${'x'.repeat(56)}`;
      expect(username).toHaveLength(64);
      const { user } = await adminUsers.createUser(deps, { username }, actor);
      expect(user.username).toBe(username);
    });
  });

  describe('list and show', () => {
    it('never include a password hash or a TOTP secret', async () => {
      const all = await adminUsers.listUsers(deps);
      expect(all.map((u) => u.username)).toEqual(
        expect.arrayContaining(['alice', 'bob', 'carol@example.com']),
      );
      const rows = await db().selectFrom('users').select(['password_hash', 'totp_secret']).execute();
      const text = JSON.stringify(all);
      for (const r of rows) {
        if (r.password_hash) expect(text).not.toContain(r.password_hash);
        if (r.totp_secret) expect(text).not.toContain(r.totp_secret);
      }
      for (const u of all) {
        expect(Object.keys(u).sort()).toEqual([
          'created_at',
          'disabled_at',
          'failed_logins',
          'failed_mfa',
          'has_passkey',
          'has_totp',
          'id',
          'is_admin',
          'locked_at',
          'locked_until',
          'must_change_password',
          'scopes',
          'username',
        ]);
      }
      expect(all.find((u) => u.username === 'carol@example.com')?.has_totp).toBe(true);
    });

    it('show finds a person by username or by id; an unknown one is not_found', async () => {
      const byName = await adminUsers.showUser(deps, 'alice');
      expect(await adminUsers.showUser(deps, byName.id)).toEqual(byName);
      await expectAdminError(adminUsers.showUser(deps, 'nobody'), 'not_found', 'no user nobody');
    });
  });

  describe('disable', () => {
    it("revokes the person's refresh-token families and their live access tokens, ends their sessions", async () => {
      const { user } = await adminUsers.createUser(deps, { username: 'erin' }, actor);
      const { user: bystander } = await adminUsers.createUser(deps, { username: 'frank' }, actor);
      const now = server.clock.now;
      const family = (id: string, userId: string, revokedAt: number | null = null) => ({
        id,
        client_id: 'clavis-cli',
        user_id: userId,
        scopes: '["openid"]',
        created_at: now,
        expires_at: now + 86_400_000,
        revoked_at: revokedAt,
        revoked_reason: revokedAt ? 'reuse' : null,
      });
      await db()
        .insertInto('token_families')
        .values([
          family('fam_erin1', user.id),
          family('fam_erin2', user.id),
          family('fam_erin_old', user.id, now - 1000),
          family('fam_frank', bystander.id),
        ])
        .execute();
      await db()
        .insertInto('family_access_tokens')
        .values([
          { jti: 'jti_erin_live', family_id: 'fam_erin1', expires_at: now + 600_000 },
          { jti: 'jti_erin_live2', family_id: 'fam_erin2', expires_at: now + 300_000 },
          { jti: 'jti_erin_expired', family_id: 'fam_erin1', expires_at: now - 1 },
          { jti: 'jti_frank_live', family_id: 'fam_frank', expires_at: now + 600_000 },
        ])
        .execute();
      await db()
        .insertInto('sessions')
        .values([
          {
            id: 'ses_erin',
            csrf_token: 'c',
            user_id: user.id,
            password_at: now,
            mfa_at: null,
            created_at: now,
            expires_at: now + 900_000,
          },
          {
            id: 'ses_frank',
            csrf_token: 'c',
            user_id: bystander.id,
            password_at: now,
            mfa_at: null,
            created_at: now,
            expires_at: now + 900_000,
          },
        ])
        .execute();

      const deviceCode = (
        id: string,
        status: 'pending' | 'approved' | 'consumed',
        userId: string | null,
      ) => ({
        id,
        device_code_hash: `hash_${id}`,
        user_code: id.toUpperCase().padEnd(8, 'B').slice(0, 8),
        client_id: 'clavis-cli',
        scopes: '["openid"]',
        status,
        interval: 5,
        last_polled_at: null,
        created_at: now,
        expires_at: now + 600_000,
        requester_ip: null,
        requester_user_agent: null,
        claimed_by_session: userId ? 'ses_erin' : null,
        user_id: userId,
        decided_at: userId ? now : null,
        consumed_at: status === 'consumed' ? now : null,
        family_id: status === 'consumed' ? 'fam_erin1' : null,
      });
      await db()
        .insertInto('device_codes')
        .values([
          deviceCode('dcapproved', 'approved', user.id),
          deviceCode('dcconsumed', 'consumed', user.id),
          deviceCode('dcfrank', 'approved', bystander.id),
          deviceCode('dcpending', 'pending', null),
        ])
        .execute();

      server.clock.advanceSeconds(10);
      const result = await adminUsers.disableUser(deps, 'erin', actor);
      expect(result.revokedFamilies).toBe(2);
      expect(result.user.disabled_at).toBe(new Date(server.clock.now).toISOString());

      const families = await db()
        .selectFrom('token_families')
        .select(['id', 'revoked_at', 'revoked_reason'])
        .orderBy('id')
        .execute();
      expect(families).toEqual([
        { id: 'fam_erin1', revoked_at: server.clock.now, revoked_reason: 'user_disabled' },
        { id: 'fam_erin2', revoked_at: server.clock.now, revoked_reason: 'user_disabled' },
        { id: 'fam_erin_old', revoked_at: now - 1000, revoked_reason: 'reuse' },
        { id: 'fam_frank', revoked_at: null, revoked_reason: null },
      ]);
      const revoked = await db()
        .selectFrom('revoked_tokens')
        .select(['jti', 'client_id'])
        .orderBy('jti')
        .execute();
      expect(revoked).toEqual([
        { jti: 'jti_erin_live', client_id: 'clavis-cli' },
        { jti: 'jti_erin_live2', client_id: 'clavis-cli' },
      ]);
      expect(await db().selectFrom('sessions').select('id').execute()).toEqual([{ id: 'ses_frank' }]);
      // The approval erin gave but the device had not yet redeemed is withdrawn; nothing else changes.
      expect(
        await db().selectFrom('device_codes').select(['id', 'status', 'decided_at']).orderBy('id').execute(),
      ).toEqual([
        { id: 'dcapproved', status: 'denied', decided_at: server.clock.now },
        { id: 'dcconsumed', status: 'consumed', decided_at: now },
        { id: 'dcfrank', status: 'approved', decided_at: now },
        { id: 'dcpending', status: 'pending', decided_at: null },
      ]);

      const record = (await auditRows('user.disable')).at(-1);
      expect(JSON.parse(record?.detail ?? '{}')).toEqual({
        user_id: user.id,
        username: 'erin',
        revoked_families: 2,
      });
    });

    it('disabling twice is a conflict that changes and records nothing', async () => {
      const before = await counts();
      const row = await userRow((await adminUsers.showUser(deps, 'erin')).id);
      server.clock.advanceSeconds(10);
      await expectAdminError(
        adminUsers.disableUser(deps, 'erin', actor),
        'conflict',
        'user erin is already disabled',
      );
      expect(await counts()).toEqual(before);
      expect(await userRow(row.id)).toEqual(row);
    });

    it('an unknown person is not_found', async () => {
      await expectAdminError(adminUsers.disableUser(deps, 'nobody', actor), 'not_found', 'no user nobody');
    });
  });

  describe('reset-mfa and unlock', () => {
    it('reset-mfa removes the TOTP secret, the recovery codes and an MFA lock; the password stays', async () => {
      const { user } = await adminUsers.createUser(deps, { username: 'gina', totp: true }, actor);
      const { user: other } = await adminUsers.createUser(deps, { username: 'hank', totp: true }, actor);
      const now = server.clock.now;
      await db()
        .updateTable('users')
        .set({ failed_mfa: 7, failed_logins: 2, locked_at: now, totp_last_step: 123 })
        .where('id', '=', user.id)
        .execute();
      await db()
        .insertInto('recovery_codes')
        .values([
          { hash: 'h1', user_id: user.id, used_at: null },
          { hash: 'h2', user_id: user.id, used_at: now },
          { hash: 'h3', user_id: other.id, used_at: null },
        ])
        .execute();
      const passkey = (userId: string, id: string) =>
        addPasskey(db(), {
          id,
          userId,
          publicKey: 'pAEC',
          counter: 3,
          transports: ['usb'],
          deviceType: 'singleDevice',
          name: 'YubiKey',
          now,
        });
      await passkey(user.id, 'cred-gina');
      await passkey(other.id, 'cred-other');
      // users show lists them, without the public key.
      expect(await adminUsers.showUserPasskeys(deps, 'gina')).toEqual([
        {
          id: 'cred-gina',
          name: 'YubiKey',
          device_type: 'singleDevice',
          transports: ['usb'],
          created_at: new Date(now).toISOString(),
          last_used_at: null,
          disabled_at: null,
          disabled_reason: null,
        },
      ]);
      const before = await userRow(user.id);

      const view = await adminUsers.resetMfa(deps, user.id, actor);
      expect(view).toMatchObject({ has_totp: false, locked_at: null, failed_mfa: 0, failed_logins: 2 });
      const after = await userRow(user.id);
      expect(after).toEqual({
        ...before,
        totp_secret: null,
        totp_last_step: null,
        failed_mfa: 0,
        locked_at: null,
      });
      expect(await db().selectFrom('recovery_codes').select('hash').orderBy('hash').execute()).toEqual([
        { hash: 'h3' },
      ]);
      expect((await userRow(other.id)).totp_secret).not.toBeNull();
      const record = (await auditRows('user.reset_mfa')).at(-1);
      expect(JSON.parse(record?.detail ?? '{}')).toEqual({
        user_id: user.id,
        username: 'gina',
        had_totp: true,
        recovery_codes_deleted: 2,
        passkeys_deleted: 1,
      });
      // Passkeys go with the reset; another person's stay.
      expect(await db().selectFrom('webauthn_credentials').select('id').execute()).toEqual([
        { id: 'cred-other' },
      ]);
    });

    it('unlock clears the lock and both failure counters, nothing else', async () => {
      const { user } = await adminUsers.createUser(deps, { username: 'ivan', totp: true }, actor);
      await db()
        .updateTable('users')
        .set({ failed_mfa: 4, failed_logins: 10, locked_at: server.clock.now, totp_last_step: 99 })
        .where('id', '=', user.id)
        .execute();
      const before = await userRow(user.id);
      const view = await adminUsers.unlockUser(deps, 'ivan', actor);
      expect(view).toMatchObject({ locked_at: null, failed_logins: 0, failed_mfa: 0, has_totp: true });
      expect(await userRow(user.id)).toEqual({ ...before, failed_logins: 0, failed_mfa: 0, locked_at: null });
      const record = (await auditRows('user.unlock')).at(-1);
      expect(JSON.parse(record?.detail ?? '{}')).toEqual({
        user_id: user.id,
        username: 'ivan',
        was_locked: true,
        failed_logins: 10,
        failed_mfa: 4,
      });
    });

    it('an unknown person is not_found for both, and nothing is recorded', async () => {
      const before = await counts();
      await expectAdminError(adminUsers.resetMfa(deps, 'nobody', actor), 'not_found', 'no user nobody');
      await expectAdminError(
        adminUsers.unlockUser(deps, 'usr_nobody', actor),
        'not_found',
        'no user usr_nobody',
      );
      expect(await counts()).toEqual(before);
    });
  });

  describe('client policy for people', () => {
    it('requireMfa and refresh lifetimes are stored and shown', async () => {
      const { client } = await adminClients.createClient(
        clientDeps,
        {
          name: 'terminal app',
          kind: 'public',
          requireMfa: true,
          refreshIdleTtlSeconds: 3600,
          refreshAbsoluteTtlSeconds: 86_400,
        },
        actor,
      );
      expect(client).toMatchObject({
        requireMfa: true,
        refreshIdleTtlSeconds: 3600,
        refreshAbsoluteTtlSeconds: 86_400,
      });
      const row = await db()
        .selectFrom('clients')
        .selectAll()
        .where('id', '=', client.id)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ require_mfa: 1, refresh_idle_ttl: 3600, refresh_absolute_ttl: 86_400 });
      const plain = await adminClients.createClient(clientDeps, { name: 'plain', kind: 'public' }, actor);
      expect(plain.client).toMatchObject({
        requireMfa: false,
        refreshIdleTtlSeconds: null,
        refreshAbsoluteTtlSeconds: null,
      });
    });

    it.each([
      [{ refreshIdleTtlSeconds: 59 }, 'refresh idle lifetime must be between 60s and 31536000s'],
      [
        { refreshAbsoluteTtlSeconds: 366 * 86_400 },
        'refresh absolute lifetime must be between 60s and 31536000s',
      ],
      [
        { refreshIdleTtlSeconds: 7200, refreshAbsoluteTtlSeconds: 3600 },
        'the refresh idle lifetime must not exceed the absolute lifetime',
      ],
      [
        { refreshIdleTtlSeconds: 3600, grants: ['device_code'] },
        'a refresh idle lifetime needs the refresh_token grant',
      ],
    ])('refuses %j', async (extra, message) => {
      const before = await db().selectFrom('clients').select('id').execute();
      await expectAdminError(
        adminClients.createClient(clientDeps, { name: 'bad', kind: 'public', ...extra }, actor),
        'invalid_input',
        message,
      );
      expect(await db().selectFrom('clients').select('id').execute()).toEqual(before);
    });
  });
});
