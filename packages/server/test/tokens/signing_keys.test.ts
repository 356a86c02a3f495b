import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KekError, openServices } from '@clavis/server';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { kidOf } from '../../../../test/support/jwt.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';

const HOUR = 3600;
/** What signing_keys.ts adds to a key's publication window beyond the longest token lifetime. */
const CLOCK_SKEW_S = 300;
const MAX_TTL_S = 3600;

async function jwks(server: Pick<TestServer, 'app'>): Promise<JSONWebKeySet> {
  const res = await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  expect(res.statusCode).toBe(200);
  return res.json() as JSONWebKeySet;
}

async function kids(server: Pick<TestServer, 'app'>): Promise<string[]> {
  return (await jwks(server)).keys.map((k) => String(k.kid));
}

describe.each(dialects)('signing keys (%s)', (dialect) => {
  const open: TestServer[] = [];
  afterEach(async () => {
    // Instances sharing a database first, the owner last.
    for (const s of open.splice(0).reverse()) await s.close();
  });

  async function start(options: Parameters<typeof createTestServer>[1] = {}): Promise<TestServer> {
    const s = await createTestServer(dialect, {
      config: { keyRotationIntervalSeconds: HOUR, ...options.config },
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.database ? { database: options.database } : {}),
    });
    open.push(s);
    return s;
  }

  async function issue(server: TestServer, client: { id: string; secret: string }): Promise<string> {
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

  async function register(server: TestServer, ttl?: number): Promise<{ id: string; secret: string }> {
    const { client, secret } = await server.createClient(ttl ? { tokenTtlSeconds: ttl } : {});
    return { id: client.id, secret: secret ?? '' };
  }

  async function introspect(server: TestServer, client: { id: string; secret: string }, token: string) {
    const res = await post(
      server,
      '/oauth/introspect',
      { token },
      { authorization: basic(client.id, client.secret) },
    );
    expect(res.statusCode).toBe(200);
    return res.json() as { active: boolean };
  }

  function keyRows(server: TestServer) {
    return server.services.db.selectFrom('signing_keys').selectAll().orderBy('slot').execute();
  }

  it('a fresh database publishes the current and the next key; the current one signs', async () => {
    const server = await start();
    const rows = await keyRows(server);
    const slot = Math.floor(server.clock.now / (HOUR * 1000));
    expect(rows.map((r) => Number(r.slot))).toEqual([slot, slot + 1]);
    expect(await kids(server)).toEqual(rows.map((r) => r.kid));
    const token = await issue(server, await register(server));
    expect(kidOf(token)).toBe(rows[0]?.kid);
    const next = rows[1];
    expect(next?.activates_at).toBe((slot + 1) * HOUR * 1000);
    expect(next?.activates_at).toBeGreaterThan(server.clock.now);
  });

  it('after a rotation interval the next key signs, and the previous one stays published', async () => {
    const server = await start();
    const client = await register(server);
    const [current, next] = await kids(server);
    server.clock.advanceSeconds(HOUR);
    await server.services.keys.refresh();
    const published = await kids(server);
    expect(published.slice(0, 2)).toEqual([current, next]);
    expect(published).toHaveLength(3);
    const token = await issue(server, client);
    expect(kidOf(token)).toBe(next);
    await jwtVerify(token, createLocalJWKSet(await jwks(server)), {
      issuer: ISSUER,
      currentDate: new Date(server.clock.now),
    });
  });

  it('F-06: a token signed before a rotation verifies and introspects until it expires', async () => {
    const server = await start();
    const client = await register(server);
    server.clock.advanceSeconds(HOUR - 60); // a minute before the rotation
    const token = await issue(server, client);
    const oldKid = kidOf(token);
    server.clock.advanceSeconds(120);
    await server.services.keys.refresh();
    expect(kidOf(await issue(server, client))).not.toBe(oldKid);

    await jwtVerify(token, createLocalJWKSet(await jwks(server)), {
      issuer: ISSUER,
      currentDate: new Date(server.clock.now),
    });
    expect(await introspect(server, client, token)).toMatchObject({ active: true });

    server.clock.advanceSeconds(600 - 60); // exp = issue time + 600 s
    await server.services.keys.refresh();
    expect(await introspect(server, client, token)).toEqual({ active: false });
  });

  it('a retired key leaves the JWKS once its expires_at passes, and nothing it signed is accepted after', async () => {
    const server = await start();
    const client = await register(server, MAX_TTL_S);
    const token = await issue(server, client);
    const oldKid = kidOf(token);
    const row = (await keyRows(server)).find((r) => r.kid === oldKid);
    expect(row?.expires_at).toBe((row?.retires_at ?? 0) + (MAX_TTL_S + CLOCK_SKEW_S) * 1000);

    // One millisecond before expires_at: still published.
    server.clock.now = (row?.expires_at ?? 0) - 1;
    await server.services.keys.refresh();
    expect(await kids(server)).toContain(oldKid);

    server.clock.now = row?.expires_at ?? 0;
    await server.services.keys.refresh();
    expect(await kids(server)).not.toContain(oldKid);
    expect(server.services.keys.byKid(oldKid)).toBeUndefined();
    expect(await introspect(server, client, token)).toEqual({ active: false });
  });

  it('two instances on one database converge on the same kids, one key per slot, even refreshing concurrently', async () => {
    const first = await start();
    const second = await start({ database: first.database, clock: first.clock });
    expect(await kids(second)).toEqual(await kids(first));

    // Two whole intervals on: both slots they need are new to both instances.
    first.clock.advanceSeconds(2 * HOUR);
    await Promise.all([
      first.services.keys.refresh(),
      second.services.keys.refresh(),
      first.services.keys.refresh(),
      second.services.keys.refresh(),
    ]);
    const a = await kids(first);
    expect(await kids(second)).toEqual(a);
    expect((await first.services.keys.current()).kid).toBe((await second.services.keys.current()).kid);

    const rows = await keyRows(first);
    const slots = rows.map((r) => Number(r.slot));
    expect(new Set(slots).size).toBe(slots.length);
    const now = Math.floor(first.clock.now / (HOUR * 1000));
    expect(slots).toEqual([now - 2, now - 1, now, now + 1]);

    // A token from one instance introspects on the other.
    const client = await register(first);
    const token = await issue(first, client);
    expect(await introspect(second, client, token)).toMatchObject({ active: true });
  });

  it('private keys are stored sealed: the column holds no PKCS#8 bytes in any common encoding', async () => {
    const server = await start();
    const current = await server.services.keys.current();
    const der = current.privateKey.export({ format: 'der', type: 'pkcs8' });
    const pem = String(current.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const pemBody = pem.replace(/-----[^-]+-----|\s/g, '');
    const jwkD = String(current.privateKey.export({ format: 'jwk' }).d);
    const row = (await keyRows(server)).find((r) => r.kid === current.kid);
    const stored = row?.private_key ?? '';
    expect(stored).toMatch(/^v1\./);
    // The raw key material is the tail of the DER; look for it, not just the whole encoding.
    const raw = der.subarray(der.length - 32);
    for (const needle of [
      der.toString('base64'),
      der.toString('base64url'),
      der.toString('hex'),
      pemBody,
      jwkD,
      raw.toString('base64url'),
      raw.toString('hex'),
    ]) {
      expect(stored).not.toContain(needle);
    }
    expect(Buffer.from(stored, 'latin1').includes(raw)).toBe(false);
    // The public JWK column holds no private member either.
    expect(JSON.parse(row?.public_jwk ?? '{}').d).toBeUndefined();
  });

  it('opening the database with a different key-encryption key fails with KekError', async () => {
    const server = await start();
    const otherKek = randomBytes(32).toString('base64');
    await expect(
      openServices({ dbUrl: server.database.url, kek: otherKek, writer: 'test', clock: server.clock.read }),
    ).rejects.toBeInstanceOf(KekError);
    await expect(
      openServices({
        dbUrl: server.database.url,
        kekFile: join(server.database.dir, 'absent.kek'),
        writer: 'test',
        clock: server.clock.read,
      }),
    ).rejects.toBeInstanceOf(KekError);
    // The right key opens it, and the stored keys unseal.
    const again = await openServices({
      dbUrl: server.database.url,
      kekFile: join(server.database.dir, 'clavis.kek'),
      writer: 'test',
      clock: server.clock.read,
      keyRotationIntervalSeconds: HOUR,
    });
    try {
      await again.keys.refresh();
      expect((await again.keys.current()).kid).toBe((await server.services.keys.current()).kid);
    } finally {
      await again.close();
    }
  });

  for (const alg of ['ES256', 'RS256'] as const) {
    it(`${alg} signing produces tokens jose verifies with the published JWKS`, async () => {
      const server = await start({ config: { signingAlg: alg } });
      const client = await register(server);
      const token = await issue(server, client);
      const set = await jwks(server);
      expect(set.keys.map((k) => k.alg)).toEqual([alg, alg]);
      const { protectedHeader, payload } = await jwtVerify(token, createLocalJWKSet(set), {
        issuer: ISSUER,
        audience: ISSUER,
        typ: 'at+jwt',
        algorithms: [alg],
        currentDate: new Date(server.clock.now),
      });
      expect(protectedHeader.alg).toBe(alg);
      expect(payload.client_id).toBe(client.id);
      expect(await introspect(server, client, token)).toMatchObject({ active: true });
    });
  }
});
