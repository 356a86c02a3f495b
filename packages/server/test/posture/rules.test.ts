/**
 * The posture rules over a real database on each dialect, its state made through the admin use cases
 * (the code `clavis admin` runs) and the real endpoints: each finding is present when it should be, and
 * gone once the fix it names is applied (or its cause has aged out). A fresh server has exactly the
 * findings its bootstrap leaves.
 */
import {
  adminApiKeys,
  adminClientSecrets,
  adminClients,
  adminFederations,
  adminIdps,
  adminUsers,
  bootstrap,
  posture,
} from '@clavis/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { jwksOf, newClientKey } from '../../../../test/support/jwt.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import { createKey, exchange, keyAdminDeps } from '../api_keys/support.js';
import { obtainTokens } from '../device_flow/support.js';

const DAY = 86_400_000;
const actor = { type: 'admin' as const, id: 'os:tester@host', ip: null, userAgent: 'clavis-cli' };

describe.each(dialects)('posture rules (%s)', (dialect) => {
  let server: TestServer;
  let deps: adminClients.AdminDeps & { totpKey: Buffer };

  beforeEach(async () => {
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
  });
  afterEach(() => server.close());

  /** The report now; the audit segment sealed first, as a running server keeps it. */
  async function report(policy: Partial<posture.PosturePolicy> = {}) {
    await server.services.audit.seal();
    return posture.postureReport(
      { db: server.services.db, auditKey: server.services.auditKey, clock: server.clock.read },
      { ...posture.defaultPolicy, ...policy },
    );
  }
  async function findings(id: string, policy: Partial<posture.PosturePolicy> = {}) {
    return (await report(policy)).findings.filter((f) => f.id === id);
  }
  /** A service principal with an owner, used recently: no finding of its own. */
  async function service(input: Partial<adminClients.CreateClientInput> = {}) {
    const { client, secret } = await server.createClient({
      owner: 'team-a',
      grants: ['client_credentials'],
      ...input,
    });
    return { id: client.id, secret: secret ?? '' };
  }
  async function tokenFor(caller: { id: string; secret: string }) {
    const res = await post(
      server,
      '/oauth/token',
      { grant_type: 'client_credentials' },
      { authorization: basic(caller.id, caller.secret) },
    );
    expect(res.statusCode, res.body).toBe(200);
  }

  it('a fresh server with its bootstrap admin: the admin without a second factor and the default audience mode', async () => {
    await bootstrap(server.services, { adminPassword: 'a long admin password' });
    const r = await report();
    expect(r.findings.map((f) => [f.id, f.severity, f.user ?? null])).toEqual([
      ['admin-without-mfa', 'high', 'admin'],
      ['assertion-audience-permissive', 'low', null],
    ]);
    expect(r.summary.score).toBe(100 - 15 - 1);
    expect(r.findings[0]).toMatchObject({
      detail: 'administrator admin has no second factor (enrolled at their next clavis login)',
      fix: 'clavis login',
      references: ['NIST-SP-800-63B:AAL2', 'NIST-CSF-2.0:PR.AA-03'],
    });
    // With the CLI client's requirement turned off, turning it back on is the fix.
    await adminClients.updateClient(deps, 'clavis-cli', { requireMfa: false }, actor);
    expect(await findings('admin-without-mfa')).toMatchObject([
      { user: 'admin', fix: 'clavis admin clients update clavis-cli --require-mfa' },
    ]);
    await adminClients.updateClient(deps, 'clavis-cli', { requireMfa: true }, actor);
    // Nothing else in a fresh state is a finding: the built-in client has no owner and no token, and is
    // not reported for either.
    server.clock.advance(60 * DAY);
    expect((await report()).findings.map((f) => f.id)).toEqual([
      'admin-without-mfa',
      'assertion-audience-permissive',
    ]);
  });

  it('admin-without-mfa: an administrator with TOTP or a passkey, a person without admin, a disabled admin are fine', async () => {
    const { username } = await createUser(server, { isAdmin: true });
    await createUser(server, { isAdmin: true, totp: true });
    const withPasskey = await createUser(server, { isAdmin: true });
    const passkey = (id: string, disabledAt: number | null) =>
      server.services.db
        .insertInto('webauthn_credentials')
        .values({
          id,
          user_id: withPasskey.id,
          public_key: 'pk',
          counter: 0,
          transports: '[]',
          device_type: 'multiDevice',
          name: 'laptop',
          created_at: server.clock.now,
          last_used_at: null,
          disabled_at: disabledAt,
          disabled_reason: disabledAt === null ? null : 'counter',
        })
        .execute();
    // A passkey disabled as a likely clone is no second factor; a usable one is.
    await passkey('cred-disabled', server.clock.now);
    expect((await findings('admin-without-mfa')).map((f) => f.user).sort()).toEqual(
      [username, withPasskey.username].sort(),
    );
    await passkey('cred-usable', null);
    await createUser(server, { isAdmin: false });
    await createUser(server, { isAdmin: true, disabled: true });
    expect((await findings('admin-without-mfa')).map((f) => f.user)).toEqual([username]);
    await adminUsers.disableUser(deps, username, actor);
    expect(await findings('admin-without-mfa')).toEqual([]);
  });

  it('api-key-unused: never used for the threshold, then revoked', async () => {
    const owner = await service();
    const key = await createKey(server, { owner: owner.id, ttlSeconds: 80 * 86_400, cidrs: ['10.0.0.0/8'] });
    expect(await findings('api-key-unused')).toEqual([]);
    server.clock.advance(31 * DAY);
    const [found] = await findings('api-key-unused');
    expect(found).toMatchObject({
      key_id: key.id,
      severity: 'medium',
      fix: `clavis admin keys revoke ${key.id} --yes`,
    });
    await adminApiKeys.revokeApiKey(keyAdminDeps(server), key.id, actor);
    expect(await findings('api-key-unused')).toEqual([]);
  });

  it('api-key-unused: a key used recently is not', async () => {
    const owner = await service({ grants: ['client_credentials'] });
    const key = await createKey(server, { owner: owner.id, ttlSeconds: 80 * 86_400 });
    server.clock.advance(40 * DAY);
    const res = await exchange(server, key.key, {}, { remoteAddress: '203.0.113.7' });
    expect(res.statusCode, res.body).toBe(200);
    expect(await findings('api-key-unused')).toEqual([]);
    // …and the allow-list finding proposes the address it is used from.
    expect(await findings('key-without-ip-allow-list')).toMatchObject([
      { key_id: key.id, fix: `clavis admin keys update ${key.id} --cidr 203.0.113.7/32` },
    ]);
  });

  it('key-without-ip-allow-list: present until the key gets an allow-list', async () => {
    const owner = await service();
    const key = await createKey(server, { owner: owner.id });
    const [found] = await findings('key-without-ip-allow-list');
    expect(found).toMatchObject({ key_id: key.id, fix: `clavis admin keys update ${key.id} --cidr CIDR` });
    await adminApiKeys.updateApiKey(keyAdminDeps(server), key.id, { cidrs: ['192.0.2.0/24'] }, actor);
    expect(await findings('key-without-ip-allow-list')).toEqual([]);
  });

  it('api-key-near-expiry: within the warning, gone once rotated', async () => {
    const owner = await service();
    const key = await createKey(server, { owner: owner.id, ttlSeconds: 10 * 86_400, cidrs: ['10.0.0.0/8'] });
    expect(await findings('api-key-near-expiry')).toEqual([]);
    server.clock.advance(4 * DAY);
    expect(await findings('api-key-near-expiry')).toMatchObject([
      { key_id: key.id, severity: 'low', fix: `clavis admin keys rotate ${key.id}` },
    ]);
    await adminApiKeys.rotateApiKey(keyAdminDeps(server), key.id, { graceSeconds: 3600 }, actor);
    expect(await findings('api-key-near-expiry')).toEqual([]);
  });

  it('api-key-past-rotation-age: older than the policy, gone once rotated', async () => {
    const owner = await service();
    const key = await createKey(server, { owner: owner.id, ttlSeconds: 80 * 86_400, cidrs: ['10.0.0.0/8'] });
    server.clock.advance(20 * DAY);
    expect(await findings('api-key-past-rotation-age')).toEqual([]);
    expect(await findings('api-key-past-rotation-age', { rotationAgeMs: 14 * DAY })).toMatchObject([
      { key_id: key.id, fix: `clavis admin keys rotate ${key.id}` },
    ]);
    await adminApiKeys.rotateApiKey(keyAdminDeps(server), key.id, { graceSeconds: 3600 }, actor);
    expect(await findings('api-key-past-rotation-age', { rotationAgeMs: 14 * DAY })).toEqual([]);
  });

  it('api-key-broad-scopes: admin is high, narrowed to the rest it is gone', async () => {
    const owner = await service({ scopes: ['read', 'write', 'admin'] });
    const key = await createKey(server, { owner: owner.id, scopes: ['read', 'admin'] });
    expect(await findings('api-key-broad-scopes')).toMatchObject([
      { key_id: key.id, severity: 'high', fix: `clavis admin keys update ${key.id} --scope read` },
    ]);
    await adminApiKeys.updateApiKey(keyAdminDeps(server), key.id, { scopes: ['read'] }, actor);
    expect(await findings('api-key-broad-scopes')).toEqual([]);
  });

  it('shared-secret-service-principal: a secret-based service, then a federation and the secret revoked', async () => {
    const svc = await service();
    const [found] = await findings('shared-secret-service-principal');
    expect(found).toMatchObject({ client_id: svc.id, severity: 'medium' });
    expect(found?.fix).toMatch(/^clavis admin federations create --client svc_\S+ --preset PRESET/);
    await adminFederations.createFederation(
      deps,
      {
        clientId: svc.id,
        preset: 'github-actions',
        audience: 'https://as.clavis.test',
        conditions: [
          { claim: 'repository', pattern: 'acme/app' },
          { claim: 'ref', pattern: 'refs/heads/main' },
        ],
        jwks: jwksOf(await newClientKey('ES256')),
      },
      actor,
    );
    const [secret] = await adminClientSecrets.listSecrets(deps, svc.id);
    const [next] = await findings('shared-secret-service-principal');
    expect(next?.fix).toBe(`clavis admin clients secrets revoke ${svc.id} ${secret?.id} --yes`);
    await adminClientSecrets.revokeSecret(deps, svc.id, secret?.id ?? '', actor);
    expect(await findings('shared-secret-service-principal')).toEqual([]);
  });

  it('client-secret-past-rotation-age: old secret, gone once rotated and its grace is over', async () => {
    const svc = await service();
    server.clock.advance(91 * DAY);
    await tokenFor(svc);
    expect(await findings('client-secret-past-rotation-age')).toMatchObject([
      { client_id: svc.id, fix: `clavis admin clients rotate-secret ${svc.id}` },
    ]);
    await adminClients.rotateClientSecret(deps, svc.id, { graceSeconds: 3600 }, actor);
    // During the grace period the old secret is on its way out: no finding.
    expect(await findings('client-secret-past-rotation-age')).toEqual([]);
    server.clock.advance(2 * 3600_000);
    expect(await findings('client-secret-past-rotation-age')).toEqual([]);
  });

  it('principal-without-owner: a client without an owner until one is named (the built-in CLI client is not)', async () => {
    const { client } = await server.createClient({ name: 'orphan' });
    expect(await findings('principal-without-owner')).toMatchObject([
      {
        client_id: client.id,
        severity: 'low',
        fix: `clavis admin clients update ${client.id} --owner OWNER`,
      },
    ]);
    await adminClients.updateClient(deps, client.id, { owner: 'team-b' }, actor);
    expect(await findings('principal-without-owner')).toEqual([]);
  });

  it('client-unused: no token for the threshold, then a token, then disabled', async () => {
    const svc = await service();
    server.clock.advance(31 * DAY);
    expect(await findings('client-unused')).toMatchObject([
      { client_id: svc.id, fix: `clavis admin clients disable ${svc.id} --yes` },
    ]);
    await tokenFor(svc);
    expect(await findings('client-unused')).toEqual([]);
    server.clock.advance(31 * DAY);
    expect((await findings('client-unused')).map((f) => f.client_id)).toEqual([svc.id]);
    await adminClients.disableClient(deps, svc.id, actor);
    expect(await findings('client-unused')).toEqual([]);
  });

  it('idp-linked-person-stale: a link not used for the threshold, gone once unlinked', async () => {
    const idpDeps = { ...deps, idpSealKey: server.services.idpKeys.seal };
    await adminIdps.createIdp(
      idpDeps,
      { name: 'acme', issuer: 'https://sso.acme.test', clientId: 'clavis', clientSecret: 's3cret' },
      actor,
    );
    const { username } = await createUser(server);
    await adminIdps.linkIdp(idpDeps, 'acme', { user: username, subject: 'sub-1' }, actor);
    server.clock.advance(89 * DAY);
    expect(await findings('idp-linked-person-stale')).toEqual([]);
    server.clock.advance(2 * DAY);
    expect(await findings('idp-linked-person-stale')).toEqual([
      {
        id: 'idp-linked-person-stale',
        severity: 'low',
        title: 'Person linked to an identity provider not signed in for long',
        detail: `${username} never signed in through acme (linked 91 days ago)`,
        user: username,
        references: ['NIST-CSF-2.0:PR.AA-01'],
        fix: 'clavis admin idps unlink acme --subject sub-1 --yes',
      },
    ]);
    // The threshold is the policy's: a longer one leaves it out.
    expect(await findings('idp-linked-person-stale', { staleSignInMs: 120 * DAY })).toEqual([]);
    await adminIdps.unlinkIdp(idpDeps, 'acme', 'sub-1', actor);
    expect(await findings('idp-linked-person-stale')).toEqual([]);
  });

  it('federation-org-wide and federation-without-ref: flagged, then pinned by the fix', async () => {
    const svc = await service();
    const federation = await adminFederations.createFederation(
      deps,
      {
        clientId: svc.id,
        preset: 'github-actions',
        audience: 'https://as.clavis.test',
        conditions: [{ claim: 'repository', pattern: 'acme/*' }],
        allowOrgWide: true,
        jwks: jwksOf(await newClientKey('ES256')),
      },
      actor,
    );
    expect(await findings('federation-org-wide')).toMatchObject([
      {
        federation_id: federation.id,
        severity: 'high',
        fix: `clavis admin federations update ${federation.id} --claim repository=OWNER/REPO`,
      },
    ]);
    expect(await findings('federation-without-ref')).toMatchObject([
      {
        federation_id: federation.id,
        fix: `clavis admin federations update ${federation.id} --claim repository=acme/* --claim ref=refs/heads/main`,
      },
    ]);
    await adminFederations.updateFederation(
      deps,
      federation.id,
      {
        conditions: [
          { claim: 'repository', pattern: 'acme/app' },
          { claim: 'ref', pattern: 'refs/heads/main' },
        ],
      },
      actor,
    );
    expect(await findings('federation-org-wide')).toEqual([]);
    expect(await findings('federation-without-ref')).toEqual([]);
  });

  it('assertion-audience-permissive: what serve recorded wins; medium with a private_key_jwt client', async () => {
    expect(await findings('assertion-audience-permissive')).toMatchObject([
      { severity: 'low', fix: 'clavis serve --assertion-audience issuer' },
    ]);
    await server.createClient({
      authMethod: 'private_key_jwt',
      jwks: jwksOf(await newClientKey('ES256')),
      owner: 'team-a',
    });
    expect(await findings('assertion-audience-permissive')).toMatchObject([{ severity: 'medium' }]);
    await posture.recordServedSettings(server.services.db, { assertionAudience: 'issuer' });
    expect(await findings('assertion-audience-permissive')).toEqual([]);
    await posture.recordServedSettings(server.services.db, { assertionAudience: 'issuer-or-token-endpoint' });
    expect((await findings('assertion-audience-permissive'))[0]?.detail).toMatch(
      /^the server was last started with/,
    );
  });

  it('audit-chain-broken: a changed record is critical', async () => {
    await service();
    expect(await findings('audit-chain-broken')).toEqual([]);
    await server.services.db
      .updateTable('audit_events')
      .set({ detail: '{"forged":true}' })
      .where('seq', '=', 1)
      .execute();
    const r = await report();
    expect(r.findings[0]).toMatchObject({
      id: 'audit-chain-broken',
      severity: 'critical',
      fix: 'clavis admin audit verify',
    });
    expect(r.summary.score).toBeLessThanOrEqual(60);
  });

  it('api-key-leaked: a leak report is high, and ages out of the window', async () => {
    const owner = await service();
    const key = await createKey(server, { owner: owner.id, scopes: ['read'], cidrs: ['10.0.0.0/8'] });
    const res = await server.app.inject({
      method: 'POST',
      url: '/oauth/api-keys/leaks',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify([
        {
          token: key.key,
          type: 'clavis_api_key',
          url: 'https://github.com/acme/app/blob/main/.env',
          source: 'content',
        },
      ]),
    });
    expect(res.statusCode, res.body).toBeLessThan(300);
    const [found] = await findings('api-key-leaked');
    expect(found).toMatchObject({
      key_id: key.id,
      severity: 'high',
      fix: `clavis admin keys create --owner ${owner.id} --scope read --ttl 30d --cidr CIDR`,
    });
    expect(found?.detail).toContain('https://github.com/acme/app/blob/main/.env');
    server.clock.advance(31 * DAY);
    expect(await findings('api-key-leaked')).toEqual([]);
  });

  it('person-token-refreshed-in-ci: a refresh whose User-Agent names a CI vendor, until the person is signed out everywhere', async () => {
    const app = await server.createClient({
      kind: 'public',
      grants: ['device_code', 'refresh_token'],
      owner: 'team-a',
    });
    const person = await createUser(server);
    const tokens = await obtainTokens(server, app.client.id, person.id);
    const refreshFrom = (userAgent: string, refreshToken: string) =>
      post(
        server,
        '/oauth/token',
        { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: app.client.id },
        { 'user-agent': userAgent },
      );
    const atDesk = await refreshFrom('clavis-sdk/0.1.0', tokens.refresh_token ?? '');
    expect(atDesk.statusCode, atDesk.body).toBe(200);
    expect(await findings('person-token-refreshed-in-ci')).toEqual([]);
    const inCi = await refreshFrom(
      'clavis-sdk/0.1.0 ci/github-actions',
      (atDesk.json() as { refresh_token: string }).refresh_token,
    );
    expect(inCi.statusCode, inCi.body).toBe(200);
    expect(await findings('person-token-refreshed-in-ci')).toMatchObject([
      {
        user: person.username,
        client_id: app.client.id,
        severity: 'high',
        fix: `clavis admin users revoke-sessions ${person.username} --yes`,
      },
    ]);
    await adminUsers.revokeSessions(deps, person.username, actor);
    expect(await findings('person-token-refreshed-in-ci')).toEqual([]);
    // A refresh from CI past the window no longer counts either.
    const again = await obtainTokens(server, app.client.id, person.id);
    expect((await refreshFrom('clavis-sdk/0.1.0 ci/gitlab-ci', again.refresh_token ?? '')).statusCode).toBe(
      200,
    );
    expect((await findings('person-token-refreshed-in-ci'))[0]?.detail).toContain('(gitlab-ci)');
    server.clock.advance(31 * DAY);
    expect(await findings('person-token-refreshed-in-ci')).toEqual([]);
  });

  it('the summary counts live credentials by kind and age', async () => {
    const svc = await service();
    await createKey(server, { owner: svc.id, ttlSeconds: 30 * 86_400 });
    server.clock.advance(10 * DAY);
    await createKey(server, { owner: svc.id });
    const { summary } = await report();
    expect(summary.credentials).toEqual([
      { kind: 'api_key', counts: [1, 1, 0, 0, 0] },
      { kind: 'client_secret', counts: [0, 1, 0, 0, 0] },
      { kind: 'private_key_jwt', counts: [0, 0, 0, 0, 0] },
      { kind: 'federation', counts: [0, 0, 0, 0, 0] },
    ]);
  });
});
