/**
 * What the audit log holds about administration and keys: signing-key creation and rotation, every
 * attribute a client is created with, what a client's deletion took with it, and refused changes.
 */
import { join } from 'node:path';
import { AdminError, adminApiKeys, adminClients, adminFederations, openServices } from '@clavis/server';
import { calculateJwkThumbprint } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { TestClock } from '../../../../test/support/clock.js';
import { createTestDatabase, dialects } from '../../../../test/support/dialects.js';
import { jwksOf, newClientKey } from '../../../../test/support/jwt.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { keyAdminDeps } from '../api_keys/support.js';
import { federationDeps } from '../federation/support.js';

const ADMIN = { type: 'admin' as const, id: 'ops' };

describe.each(dialects)('audit coverage of administration (%s)', (dialect) => {
  let server: TestServer;
  const after: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await server.close();
    for (const done of after.splice(0)) await done();
  });

  it('signing keys: the first key is recorded as created, its successor as a rotation, once each', async () => {
    // A fresh database whose keys are made by a store that records them, as `serve` sets it up.
    const database = await createTestDatabase(dialect);
    after.push(() => database.drop());
    const clock = new TestClock();
    const services = await openServices({
      dbUrl: database.url,
      kekFile: join(database.dir, 'clavis.kek'),
      writer: 'test',
      clock: clock.read,
      keyRotationIntervalSeconds: 3600,
    });
    services.keys.recordCreationsIn(services.audit);
    await services.keys.refresh();
    await services.audit.drain();
    server = await createTestServer(dialect, {
      database,
      clock,
      config: { keyRotationIntervalSeconds: 3600 },
    });
    const created = await auditRecords(server, 'signing_key.create');
    const rotated = await auditRecords(server, 'signing_key.rotate');
    expect(created).toHaveLength(1);
    expect(rotated).toHaveLength(1);
    const slot = Math.floor(server.clock.now / 3_600_000);
    expect(created[0]).toMatchObject({ actor_type: 'system', outcome: 'success' });
    expect(created[0]?.detail).toMatchObject({ alg: 'EdDSA', slot, kid: expect.any(String) });
    expect(rotated[0]?.detail).toMatchObject({
      slot: slot + 1,
      activates_at: new Date((slot + 1) * 3_600_000).toISOString(),
    });
    // A second recording store on the same database finds the keys: nothing new to record.
    server.services.keys.recordCreationsIn(server.services.audit);
    await server.services.keys.refresh();
    expect(await auditRecords(server, 'signing_key.rotate')).toHaveLength(1);
    // An hour on, the next successor is made and recorded.
    clock.advanceSeconds(3600);
    await services.keys.refresh();
    await services.audit.drain();
    expect(await auditRecords(server, 'signing_key.create')).toHaveLength(1);
    expect((await auditRecords(server, 'signing_key.rotate')).map((r) => r.detail.slot)).toEqual([
      slot + 1,
      slot + 2,
    ]);
    await services.close();
  });

  it('client.create records every attribute; client.delete what it took with it', async () => {
    server = await createTestServer(dialect);
    const key = await newClientKey('ES256');
    const jwks = jwksOf(key);
    const { client } = await server.createClient({
      name: 'billing',
      owner: 'team-billing',
      authMethod: 'private_key_jwt',
      jwks,
      audiences: ['https://api.example'],
      tokenTtlSeconds: 120,
    });
    const [create] = (await auditRecords(server, 'client.create')).filter((r) => r.client_id === client.id);
    expect(create?.detail).toMatchObject({
      name: 'billing',
      owner: 'team-billing',
      auth_method: 'private_key_jwt',
      grant_types: ['client_credentials'],
      scopes: ['read', 'write'],
      audiences: ['https://api.example'],
      token_ttl: 120,
      jwks_uri: null,
      jwks_thumbprints: [await calculateJwkThumbprint(jwks.keys[0] ?? {})],
    });

    const secretClient = await server.createClient({ name: 'svc' });
    const id = secretClient.client.id;
    const fed = await adminFederations.createFederation(
      federationDeps(server),
      {
        clientId: id,
        preset: 'github-actions',
        audience: ISSUER,
        conditions: [{ claim: 'repository', pattern: 'acme/app' }],
      },
      ADMIN,
    );
    const apiKey = await adminApiKeys.createApiKey(
      keyAdminDeps(server),
      { owner: id, scopes: ['read'], ttlSeconds: 3600 },
      ADMIN,
    );
    const secrets = await server.services.db
      .selectFrom('client_secrets')
      .select('id')
      .where('client_id', '=', id)
      .execute();
    await adminClients.deleteClient(
      {
        db: server.services.db,
        audit: server.services.audit,
        hasher: server.services.hasher,
        clock: server.clock.read,
        maxAccessTokenTtlSeconds: 3600,
        defaultAccessTokenTtlSeconds: 600,
      },
      id,
      ADMIN,
    );
    const [deleted] = (await auditRecords(server, 'client.delete')).filter((r) => r.client_id === id);
    expect(deleted?.detail).toEqual({
      secret_ids: secrets.map((s) => s.id),
      federation_ids: [fed.id],
      revoked_api_key_ids: [apiKey.key.id],
    });
    const keyRow = await server.services.db
      .selectFrom('api_keys')
      .select(['revoked_at', 'revoked_reason'])
      .where('id', '=', apiKey.key.id)
      .executeTakeFirstOrThrow();
    expect(keyRow.revoked_reason).toBe('owner_deleted');
  });

  it('refused administrative changes are recorded as failures with the reason', async () => {
    server = await createTestServer(dialect);
    const svc = await server.createClient({ name: 'svc' });
    await expect(
      adminFederations.createFederation(
        federationDeps(server),
        {
          clientId: svc.client.id,
          preset: 'github-actions',
          audience: ISSUER,
          conditions: [{ claim: 'repository', pattern: 'acme/app' }],
          scopes: ['admin'],
        },
        ADMIN,
      ),
    ).rejects.toBeInstanceOf(AdminError);
    await expect(
      adminApiKeys.createApiKey(
        keyAdminDeps(server),
        { owner: svc.client.id, scopes: ['not-in-ceiling'], ttlSeconds: 3600 },
        ADMIN,
      ),
    ).rejects.toBeInstanceOf(AdminError);
    await expect(server.createClient({ name: 'x', tokenTtlSeconds: 5 })).rejects.toBeInstanceOf(AdminError);

    const fed = await auditRecords(server, 'federation.create');
    expect(fed).toHaveLength(1);
    expect(fed[0]).toMatchObject({
      outcome: 'failure',
      actor_type: 'admin',
      actor_id: 'ops',
      client_id: svc.client.id,
    });
    expect(fed[0]?.detail).toMatchObject({
      reason: 'invalid_input',
      message: expect.stringContaining("outside the client's ceiling"),
    });
    const key = await auditRecords(server, 'api_key.create');
    expect(key.map((r) => [r.outcome, r.detail.reason])).toEqual([['failure', 'invalid_input']]);
    const client = (await auditRecords(server, 'client.create')).filter((r) => r.outcome === 'failure');
    expect(client).toHaveLength(1);
    expect(client[0]?.detail).toMatchObject({ name: 'x', reason: 'invalid_input' });
  });
});
