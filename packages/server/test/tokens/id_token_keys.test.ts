/**
 * The ID tokens' RS256 keys beside the access tokens' keys: none on a fresh database (start-up and
 * readiness do not pay for an RSA key), the current and next ones made by the first ID token, then kept
 * on the access keys' schedule by every instance that refreshes; several instances asking at once
 * converge on one key per slot; `signing-keys rotate` replaces them too; creation is audited with the alg.
 */
import { adminSigningKeys } from '@clavis/server';
import { afterEach, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';

const HOUR = 3600;
const ADMIN = { type: 'admin' as const, id: 'ops' };

interface PublishedKey {
  kid: string;
  alg: string;
  kty: string;
}

async function jwks(server: Pick<TestServer, 'app'>): Promise<PublishedKey[]> {
  const res = await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  expect(res.statusCode).toBe(200);
  return (res.json() as { keys: PublishedKey[] }).keys;
}

describe.each(dialects)('ID token signing keys (%s)', (dialect) => {
  const open: TestServer[] = [];
  afterEach(async () => {
    // Instances sharing a database first, the owner last.
    for (const s of open.splice(0).reverse()) await s.close();
  });

  async function start(options: Parameters<typeof createTestServer>[1] = {}): Promise<TestServer> {
    const s = await createTestServer(dialect, {
      ...options,
      config: { keyRotationIntervalSeconds: HOUR, ...options.config },
    });
    open.push(s);
    return s;
  }

  function rows(server: TestServer, alg: string) {
    return server.services.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('alg', '=', alg)
      .orderBy('slot')
      .execute();
  }

  const slotOf = (server: TestServer) => Math.floor(server.clock.now / (HOUR * 1000));

  it('a fresh database has no RS256 key, and is ready without one', async () => {
    const server = await start();
    expect(await rows(server, 'RS256')).toEqual([]);
    expect((await jwks(server)).map((k) => k.alg)).toEqual(['EdDSA', 'EdDSA']);
    const ready = await server.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    await server.services.keys.refresh();
    expect(await rows(server, 'RS256')).toEqual([]);
  });

  it('the first ID token key makes the current and next RS256 keys, published beside the access keys', async () => {
    const server = await start();
    const access = await server.services.keys.current();
    const key = await server.services.keys.currentIdTokenKey();
    expect(key.alg).toBe('RS256');
    expect(key.kid).not.toBe(access.kid);
    const stored = await rows(server, 'RS256');
    const slot = slotOf(server);
    expect(stored.map((r) => Number(r.slot))).toEqual([slot, slot + 1]);
    expect(stored[0]?.kid).toBe(key.kid);
    // The same schedule as the access keys of those slots.
    const accessRows = await rows(server, 'EdDSA');
    for (const [i, r] of stored.entries()) {
      expect(r.activates_at).toBe(accessRows[i]?.activates_at);
      expect(r.retires_at).toBe(accessRows[i]?.retires_at);
      expect(r.expires_at).toBe(accessRows[i]?.expires_at);
    }
    const published = await jwks(server);
    expect(published.map((k) => k.alg)).toEqual(['EdDSA', 'RS256', 'EdDSA', 'RS256']);
    expect(published.filter((k) => k.alg === 'RS256').map((k) => k.kid)).toEqual(stored.map((r) => r.kid));
    expect(published.find((k) => k.kid === key.kid)?.kty).toBe('RSA');
    expect(server.services.keys.byKid(key.kid)?.alg).toBe('RS256');
    // The access tokens' key is still the one that signs them.
    expect((await server.services.keys.current()).kid).toBe(access.kid);
    // Asked again: the loaded key, nothing new.
    expect((await server.services.keys.currentIdTokenKey()).kid).toBe(key.kid);
    expect(await rows(server, 'RS256')).toHaveLength(2);
  });

  it('once stored, RS256 keys are kept current and next on every instance, rotating with the access keys', async () => {
    const first = await start();
    const idKey = await first.services.keys.currentIdTokenKey();
    const [, next] = await rows(first, 'RS256');
    // Another instance never asked for an ID token: its refresh keeps them all the same.
    const second = await start({ database: first.database, clock: first.clock });
    expect((await jwks(second)).map((k) => k.kid)).toEqual((await jwks(first)).map((k) => k.kid));

    first.clock.advanceSeconds(HOUR);
    await second.services.keys.refresh();
    const slot = slotOf(first);
    expect((await rows(first, 'RS256')).map((r) => Number(r.slot))).toEqual([slot - 1, slot, slot + 1]);
    await first.services.keys.refresh();
    // The previous key stays published (tokens it signed still verify); the next one signs now.
    expect((await first.services.keys.currentIdTokenKey()).kid).toBe(next?.kid);
    expect((await second.services.keys.currentIdTokenKey()).kid).toBe(next?.kid);
    const published = (await jwks(first)).filter((k) => k.alg === 'RS256').map((k) => k.kid);
    expect(published).toHaveLength(3);
    expect(published[0]).toBe(idKey.kid);
    expect(first.services.keys.byKid(idKey.kid)).toBeDefined();
  });

  it('instances asking for the first ID token key at once converge on one key per slot', async () => {
    const first = await start();
    const second = await start({ database: first.database, clock: first.clock });
    const keys = await Promise.all([
      first.services.keys.currentIdTokenKey(),
      second.services.keys.currentIdTokenKey(),
      first.services.keys.currentIdTokenKey(),
      second.services.keys.currentIdTokenKey(),
    ]);
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    const stored = await rows(first, 'RS256');
    const slot = slotOf(first);
    expect(stored.map((r) => Number(r.slot))).toEqual([slot, slot + 1]);
    await Promise.all([first.services.keys.refresh(), second.services.keys.refresh()]);
    expect(await jwks(second)).toEqual(await jwks(first));
  });

  it('the first RS256 keys are recorded as created and as a rotation, with their alg', async () => {
    const server = await start();
    server.services.keys.recordCreationsIn(server.services.audit);
    await server.services.keys.currentIdTokenKey();
    await server.services.audit.drain();
    const slot = slotOf(server);
    const created = (await auditRecords(server, 'signing_key.create')).filter(
      (r) => r.detail.alg === 'RS256',
    );
    const rotated = (await auditRecords(server, 'signing_key.rotate')).filter(
      (r) => r.detail.alg === 'RS256',
    );
    expect(created.map((r) => r.detail.slot)).toEqual([slot]);
    expect(rotated.map((r) => r.detail.slot)).toEqual([slot + 1]);
  });

  it('signing-keys rotate replaces the RS256 keys with the access keys', async () => {
    const server = await start();
    const oldId = await server.services.keys.currentIdTokenKey();
    const oldAccess = await server.services.keys.current();
    const result = await adminSigningKeys.replaceSigningKeys(
      { keys: server.services.keys, audit: server.services.audit, clock: server.clock.read },
      { withdrawNow: false },
      ADMIN,
    );
    expect(result.withdrawn.map((w) => w.alg).sort()).toEqual(['EdDSA', 'EdDSA', 'RS256', 'RS256']);
    expect(result.created.map((c) => c.alg).sort()).toEqual(['EdDSA', 'EdDSA', 'RS256', 'RS256']);
    await server.services.keys.refresh();
    const newId = await server.services.keys.currentIdTokenKey();
    expect(newId.alg).toBe('RS256');
    expect(newId.kid).not.toBe(oldId.kid);
    expect((await server.services.keys.current()).kid).not.toBe(oldAccess.kid);
    expect(result.created.map((c) => c.kid)).toContain(newId.kid);
    // One key per slot still, the replaced ones out of the sequence (and still published for now).
    const slot = slotOf(server);
    const live = (await rows(server, 'RS256')).filter((r) => Number(r.slot) >= 0);
    expect(live.map((r) => Number(r.slot))).toEqual([slot, slot + 1]);
    expect(server.services.keys.byKid(oldId.kid)).toBeDefined();
  });

  it('with RS256 access tokens, one set of keys serves both', async () => {
    const server = await start({ config: { signingAlg: 'RS256' } });
    const access = await server.services.keys.current();
    expect((await server.services.keys.currentIdTokenKey()).kid).toBe(access.kid);
    expect((await jwks(server)).map((k) => k.alg)).toEqual(['RS256', 'RS256']);
  });
});
