/**
 * A change to a client takes effect on the very next request when this process made it (through its
 * audit log), and as soon as it can be known when another process did: on SQLite at once (`clavis admin`
 * writing the file moves `PRAGMA data_version`), on PostgreSQL when the change's notification arrives
 * (another instance; milliseconds). Client lookups may be cached; these tests pin that the cache is exact.
 */
import { join } from 'node:path';
import { adminClients, openServices, type Services } from '@clavis/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { basic, post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { expectInvalidClient, expectToken } from '../../../../test/support/oauth_answers.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { until } from '../../../../test/support/until.js';

const CC = { grant_type: 'client_credentials' };

describe.each(dialects)('client changes take effect as soon as they can be known (%s)', (dialect) => {
  let server: TestServer;
  let other: Services;
  let otherDeps: adminClients.AdminDeps;
  const admin = { type: 'admin' as const, id: 'other-process' };

  beforeEach(async () => {
    server = await createTestServer(dialect);
    // A second, independent connection to the same database: what `clavis admin` is to `clavis serve`.
    other = await openServices({
      dbUrl: server.database.url,
      kekFile: join(server.database.dir, 'clavis.kek'),
      writer: 'other',
      clock: server.clock.read,
    });
    otherDeps = {
      db: other.db,
      audit: other.audit,
      hasher: other.hasher,
      clock: server.clock.read,
      maxAccessTokenTtlSeconds: 3600,
      defaultAccessTokenTtlSeconds: 600,
    };
  });
  afterEach(async () => {
    await other.close();
    await server.close();
  });

  /** A change another process committed: refused at once on SQLite, within milliseconds on PostgreSQL. */
  async function refusedAfterChangeElsewhere(authorization: string): Promise<void> {
    const attempt = () => post(server, TOKEN_PATH, CC, { authorization });
    if (dialect === 'postgres') {
      await until(async () => (await attempt()).statusCode === 401, {
        withinMs: 2000,
        what: 'the change announced to this instance',
      });
    }
    expectInvalidClient(await attempt(), 'client authentication failed');
  }

  it('a client deleted by another process is refused (next request on SQLite, ms on PostgreSQL)', async () => {
    const { client, secret = '' } = await server.createClient({});
    expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, secret) }));
    await adminClients.deleteClient(otherDeps, client.id, admin);
    await refusedAfterChangeElsewhere(basic(client.id, secret));
  });

  it('a secret rotated by another process without grace stops; the new one works at once', async () => {
    const { client, secret = '' } = await server.createClient({});
    expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, secret) }));
    const rotated = await adminClients.rotateClientSecret(otherDeps, client.id, { graceSeconds: 0 }, admin);
    await refusedAfterChangeElsewhere(basic(client.id, secret));
    expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, rotated.secret) }));
  });

  it('a client created by another process works on the first request', async () => {
    const created = await adminClients.createClient(
      otherDeps,
      { name: 'made elsewhere', kind: 'confidential', scopes: ['read'] },
      admin,
    );
    const res = await post(server, TOKEN_PATH, CC, {
      authorization: basic(created.client.id, created.secret ?? ''),
    });
    expect(res.statusCode).toBe(200);
  });

  it('a secret rotated by this process stops at once', async () => {
    const { client, secret = '' } = await server.createClient({});
    expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, secret) }));
    await adminClients.rotateClientSecret(
      {
        db: server.services.db,
        audit: server.services.audit,
        hasher: server.services.hasher,
        clock: server.clock.read,
        maxAccessTokenTtlSeconds: 3600,
        defaultAccessTokenTtlSeconds: 600,
      },
      client.id,
      { graceSeconds: 0 },
      admin,
    );
    expectInvalidClient(
      await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, secret) }),
      'client authentication failed',
    );
  });

  it('a secret expiring with time stops at its expiry, cached or not', async () => {
    const { client, secret = '' } = await server.createClient({ secretTtlSeconds: 60 });
    expectToken(await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, secret) }));
    server.clock.advanceSeconds(60);
    expectInvalidClient(
      await post(server, TOKEN_PATH, CC, { authorization: basic(client.id, secret) }),
      'client authentication failed',
    );
  });
});
