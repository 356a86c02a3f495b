/**
 * Offboarding: a person linked to an identity provider cannot refresh past the provider's session
 * lifetime (counted from the sign-in that approved the family): their terminal must sign in upstream
 * again, where a person the provider no longer accepts is stopped. Unlinking them, or deleting the
 * provider, revokes their families at once. People without a link are not affected.
 */
import { adminIdps } from '@clavis/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import { obtainTokens, refresh } from '../device_flow/support.js';

const ADMIN = { type: 'admin' as const, id: 'ops' };

describe.each(dialects)('offboarding people linked to an identity provider (%s)', (dialect) => {
  let server: TestServer;
  let client: { id: string; secret: string };
  const deps = () => ({
    db: server.services.db,
    audit: server.services.audit,
    clock: server.clock.read,
    idpSealKey: server.services.idpKeys.seal,
  });

  beforeEach(async () => {
    server = await createTestServer(dialect);
    const c = await server.createClient({
      kind: 'confidential',
      grants: ['device_code', 'refresh_token'],
      scopes: ['openid', 'read'],
    });
    client = { id: c.client.id, secret: c.secret ?? '' };
    await adminIdps.createIdp(
      deps(),
      {
        name: 'Acme',
        issuer: 'https://sso.acme.example',
        clientId: 'clavis',
        clientSecret: 's',
        sessionLifetimeSeconds: 3600,
      },
      ADMIN,
    );
  });
  afterEach(() => server.close());

  it('a linked person refreshes until the upstream session lifetime, then must sign in again; others do not', async () => {
    const linked = await createUser(server, { username: 'ada' });
    const local = await createUser(server, { username: 'bob' });
    await adminIdps.linkIdp(deps(), 'Acme', { user: 'ada', subject: 'sub-ada' }, ADMIN);
    const ada = await obtainTokens(server, client, linked.id, 'openid read');
    const bob = await obtainTokens(server, client, local.id, 'openid read');

    server.clock.advance(1800_000);
    const adaHalf = await refresh(server, client, ada.refresh_token);
    expect(adaHalf.statusCode, adaHalf.body).toBe(200);

    server.clock.advance(1801_000);
    const adaLate = await refresh(
      server,
      client,
      (adaHalf.json() as { refresh_token: string }).refresh_token,
    );
    expect(adaLate.statusCode).toBe(400);
    expect(adaLate.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'sign in again: the upstream session has ended',
    });
    const bobLate = await refresh(server, client, bob.refresh_token);
    expect(bobLate.statusCode, bobLate.body).toBe(200);
  });

  it('unlinking a person, or deleting the provider, revokes their families at once', async () => {
    const ada = await createUser(server, { username: 'ada' });
    const eve = await createUser(server, { username: 'eve' });
    await adminIdps.linkIdp(deps(), 'Acme', { user: 'ada', subject: 'sub-ada' }, ADMIN);
    await adminIdps.linkIdp(deps(), 'Acme', { user: 'eve', subject: 'sub-eve' }, ADMIN);
    const adaTokens = await obtainTokens(server, client, ada.id, 'openid read');
    const eveTokens = await obtainTokens(server, client, eve.id, 'openid read');

    expect(await adminIdps.unlinkIdp(deps(), 'Acme', 'sub-ada', ADMIN)).toEqual({ revokedFamilies: 1 });
    expect((await refresh(server, client, adaTokens.refresh_token)).statusCode).toBe(400);
    expect((await refresh(server, client, eveTokens.refresh_token)).statusCode).toBe(200);

    const eveAgain = await obtainTokens(server, client, eve.id, 'openid read');
    const deleted = await adminIdps.deleteIdp(deps(), 'Acme', ADMIN);
    expect(deleted).toMatchObject({ unlinked: 1 });
    expect(deleted.revokedFamilies).toBeGreaterThanOrEqual(1);
    expect((await refresh(server, client, eveAgain.refresh_token)).statusCode).toBe(400);
    const records = await auditRecords(server, 'idp.delete');
    expect(records.at(-1)?.detail).toMatchObject({ name: 'Acme', unlinked: 1 });
    expect(await auditRecords(server, 'idp.unlink')).toHaveLength(1);
  });

  it('stale: linked people not signed in for the given days', async () => {
    await createUser(server, { username: 'ada' });
    await adminIdps.linkIdp(deps(), 'Acme', { user: 'ada', subject: 'sub-ada' }, ADMIN);
    expect(await adminIdps.listIdpLinks(deps(), 'Acme', 30)).toEqual([]);
    server.clock.advance(31 * 86_400_000);
    expect((await adminIdps.listIdpLinks(deps(), 'Acme', 30)).map((l) => l.username)).toEqual(['ada']);
  });
});
