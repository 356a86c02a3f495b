/**
 * The published JWKS comes from the sealed private keys, not from the stored `public_jwk` column: someone
 * who can write to the database but has no KEK cannot make resource servers accept tokens they forge. A
 * row whose public key, `kid` or algorithm disagrees with its private key is refused (reported, never
 * published, never used to sign); a refused key of the current or next slot is replaced by a fresh one.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { kidOf } from '../../../../test/support/jwt.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { seal, unseal } from '../../src/crypto/seal.js';

const HOUR = 3600;

interface Refusal {
  kid: string;
  reason: string;
}

describe.each(dialects)('JWKS integrity (%s)', (dialect) => {
  const open: TestServer[] = [];
  afterEach(async () => {
    for (const s of open.splice(0).reverse()) await s.close();
  });

  async function start(refusals: Refusal[], shared?: TestServer): Promise<TestServer> {
    const s = await createTestServer(dialect, {
      config: { keyRotationIntervalSeconds: HOUR },
      logger: { error: (fields) => refusals.push(fields as unknown as Refusal) },
      ...(shared ? { database: shared.database, clock: shared.clock } : {}),
    });
    open.push(s);
    return s;
  }

  async function jwks(server: TestServer): Promise<JSONWebKeySet> {
    const res = await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    return res.json() as JSONWebKeySet;
  }

  async function issue(server: TestServer): Promise<string> {
    const { client, secret } = await server.createClient({});
    const res = await post(
      server,
      '/oauth/token',
      { grant_type: 'client_credentials' },
      { authorization: basic(client.id, secret ?? '') },
    );
    expect(res.statusCode, res.body).toBe(200);
    return res.json().access_token as string;
  }

  function rows(server: TestServer) {
    return server.services.db.selectFrom('signing_keys').selectAll().orderBy('slot').execute();
  }

  /** An attacker's Ed25519 key pair, its public JWK published under `kid`. */
  function attackerKey(kid: string) {
    const pair = generateKeyPairSync('ed25519');
    const jwk: JWK = { ...(pair.publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'EdDSA', use: 'sig' };
    return { ...pair, jwk };
  }

  /** What a resource server does: verify with the published JWKS. */
  async function rsAccepts(server: TestServer, token: string): Promise<boolean> {
    try {
      await jwtVerify(token, createLocalJWKSet(await jwks(server)), {
        issuer: ISSUER,
        audience: ISSUER,
        typ: 'at+jwt',
        currentDate: new Date(server.clock.now),
      });
      return true;
    } catch {
      return false;
    }
  }

  function forge(attacker: ReturnType<typeof attackerKey>, kid: string, server: TestServer): Promise<string> {
    const now = Math.floor(server.clock.now / 1000);
    return new SignJWT({ client_id: 'svc_anyone', scope: 'openid profile admin' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid })
      .setIssuer(ISSUER)
      .setSubject('usr_anyone')
      .setAudience(ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti('forged')
      .sign(attacker.privateKey);
  }

  it('the current key’s public_jwk replaced: not published, the slot gets a fresh key, forged tokens fail', async () => {
    const refusals: Refusal[] = [];
    const server = await start(refusals);
    const current = (await server.services.keys.current()).kid;
    const attacker = attackerKey(current);
    await server.services.db
      .updateTable('signing_keys')
      .set({ public_jwk: JSON.stringify(attacker.jwk) })
      .where('kid', '=', current)
      .execute();

    // The instance that had the key loaded notices on its next refresh.
    await server.services.keys.refresh();
    const published = await jwks(server);
    expect(published.keys.map((k) => k.x)).not.toContain(attacker.jwk.x);
    expect(published.keys.map((k) => k.kid)).not.toContain(current);
    expect(refusals).toContainEqual(expect.objectContaining({ kid: current, reason: expect.any(String) }));
    expect(await rsAccepts(server, await forge(attacker, current, server))).toBe(false);

    // It keeps serving with a new key for the same slot, which the JWKS publishes.
    const token = await issue(server);
    expect(kidOf(token)).not.toBe(current);
    expect(await rsAccepts(server, token)).toBe(true);
    const slots = (await rows(server)).map((r) => Number(r.slot));
    expect(new Set(slots).size).toBe(slots.length);
    expect((await server.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('a fresh instance on a tampered database publishes nothing of the attacker’s, on every slot', async () => {
    const refusals: Refusal[] = [];
    const first = await start([]);
    const [current, next] = await rows(first);
    const attackers = [current, next].map((r) => attackerKey(r?.kid ?? ''));
    for (const [i, row] of [current, next].entries()) {
      await first.services.db
        .updateTable('signing_keys')
        .set({ public_jwk: JSON.stringify(attackers[i]?.jwk) })
        .where('kid', '=', row?.kid ?? '')
        .execute();
    }
    const second = await start(refusals, first);
    const published = await jwks(second);
    for (const a of attackers) expect(published.keys.map((k) => k.x)).not.toContain(a.jwk.x);
    expect(published.keys.map((k) => k.kid)).not.toContain(current?.kid);
    expect(published.keys.map((k) => k.kid)).not.toContain(next?.kid);
    expect(published.keys).toHaveLength(2);
    expect(refusals.map((r) => r.kid).sort()).toEqual([current?.kid, next?.kid].sort());
    const token = await issue(second);
    expect(await rsAccepts(second, token)).toBe(true);
    // The first instance converges on the same replacement keys.
    await first.services.keys.refresh();
    expect(await jwks(first)).toEqual(published);
  });

  it('a retired key tampered with leaves the JWKS and is not replaced; the current key goes on signing', async () => {
    const refusals: Refusal[] = [];
    const server = await start(refusals);
    const old = (await server.services.keys.current()).kid;
    server.clock.advanceSeconds(HOUR);
    await server.services.keys.refresh();
    const current = (await server.services.keys.current()).kid;
    expect((await jwks(server)).keys.map((k) => k.kid)).toContain(old);
    const attacker = attackerKey(old);
    await server.services.db
      .updateTable('signing_keys')
      .set({ public_jwk: JSON.stringify(attacker.jwk) })
      .where('kid', '=', old)
      .execute();
    await server.services.keys.refresh();
    expect((await jwks(server)).keys.map((k) => k.kid)).not.toContain(old);
    expect(server.services.keys.byKid(old)).toBeUndefined();
    expect(kidOf(await issue(server))).toBe(current);
    expect((await rows(server)).map((r) => r.kid)).toContain(old);
    // Reported once, not on every refresh.
    await server.services.keys.refresh();
    expect(refusals.filter((r) => r.kid === old)).toHaveLength(1);
  });

  it('a kid that is not the thumbprint of the private key is refused, even sealed under that kid', async () => {
    const refusals: Refusal[] = [];
    const first = await start([]);
    const [, next] = await rows(first);
    if (!next) throw new Error('no next key');
    // A KEK holder re-sealing the real private key under a made-up kid, with a matching public_jwk.
    const sealingKey = first.services.kek.derive('signing-key-sealing');
    const der = unseal(sealingKey, next.private_key, `signing-key:${next.kid}`);
    const fakeKid = await calculateJwkThumbprint(attackerKey('').jwk);
    const jwk = { ...(JSON.parse(next.public_jwk) as JWK), kid: fakeKid };
    await first.services.db.deleteFrom('signing_keys').where('kid', '=', next.kid).execute();
    await first.services.db
      .insertInto('signing_keys')
      .values({
        ...next,
        kid: fakeKid,
        public_jwk: JSON.stringify(jwk),
        private_key: seal(sealingKey, der, `signing-key:${fakeKid}`),
      })
      .execute();
    const second = await start(refusals, first);
    const kids = (await jwks(second)).keys.map((k) => k.kid);
    expect(kids).not.toContain(fakeKid);
    expect(kids).toHaveLength(2);
    expect(refusals).toEqual([
      expect.objectContaining({ kid: fakeKid, reason: 'kid is not the thumbprint of the private key' }),
    ]);
  });

  it('a row whose kid was changed (so its private key no longer unseals) or whose alg was changed is refused', async () => {
    const refusals: Refusal[] = [];
    const first = await start([]);
    const [current, next] = await rows(first);
    if (!current || !next) throw new Error('no keys');
    const attacker = attackerKey('');
    const attackerKid = await calculateJwkThumbprint(attacker.jwk);
    await first.services.db
      .updateTable('signing_keys')
      .set({ kid: attackerKid, public_jwk: JSON.stringify({ ...attacker.jwk, kid: attackerKid }) })
      .where('kid', '=', current.kid)
      .execute();
    await first.services.db
      .updateTable('signing_keys')
      .set({ alg: 'RS256', public_jwk: JSON.stringify({ ...JSON.parse(next.public_jwk), alg: 'RS256' }) })
      .where('kid', '=', next.kid)
      .execute();
    const second = await start(refusals, first);
    const published = await jwks(second);
    expect(published.keys.map((k) => k.kid)).not.toContain(attackerKid);
    expect(published.keys.map((k) => k.alg)).toEqual(['EdDSA', 'EdDSA']);
    expect(refusals).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kid: attackerKid, reason: 'private key does not unseal under its kid' }),
        expect.objectContaining({ kid: next.kid, reason: 'key type does not fit alg' }),
      ]),
    );
    expect(await rsAccepts(second, await forge(attacker, attackerKid, second))).toBe(false);
    expect(await rsAccepts(second, await issue(second))).toBe(true);
  });
});
