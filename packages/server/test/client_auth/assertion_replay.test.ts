/**
 * Client-assertion replay: a `jti` is accepted once per client, and the record of it lives in the
 * database, so it holds across instances (CA-07) and under concurrent requests to several of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { type ClientKey, jwksOf, newClientKey, signAssertion } from '../../../../test/support/jwt.js';
import { post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { expectInvalidClient, expectToken } from '../../../../test/support/oauth_answers.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { purgeReplayGuard } from '../../src/storage/replay_guard.js';
import { assertionClaims, assertionRequest } from './assertion_kit.js';

const REPLAYED = 'client_assertion has already been used';

describe.each(dialects)('client assertion replay (%s)', (dialect) => {
  let first: TestServer;
  let second: TestServer;

  beforeAll(async () => {
    first = await createTestServer(dialect);
    // A second instance on the same database and the same clock.
    second = await createTestServer(dialect, { database: first.database, clock: first.clock });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  async function keyClient(): Promise<{ id: string; key: ClientKey }> {
    const key = await newClientKey('EdDSA');
    const { client } = await first.createClient({ authMethod: 'private_key_jwt', jwks: jwksOf(key) });
    return { id: client.id, key };
  }

  const send = (server: TestServer, assertion: string) =>
    post(server, TOKEN_PATH, assertionRequest(assertion));

  async function replayRows(clientId: string, jti: string): Promise<number> {
    const rows = await first.services.db
      .selectFrom('replay_guard')
      .select('key')
      .where('key', 'like', `%${clientId}%`)
      .execute();
    return rows.filter((r) => r.key.endsWith(`:${jti}`)).length;
  }

  it('CA-07: the same assertion twice: the second is invalid_client', async () => {
    const { id, key } = await keyClient();
    const assertion = await signAssertion(key, assertionClaims(id, first.clock.now));
    expectToken(await send(first, assertion));
    expectInvalidClient(await send(first, assertion), REPLAYED);
  });

  it('CA-07: a new assertion reusing a spent jti is invalid_client, even with other claims', async () => {
    const { id, key } = await keyClient();
    const claims = assertionClaims(id, first.clock.now);
    expectToken(await send(first, await signAssertion(key, claims)));
    const again = { ...claims, iat: (claims.iat ?? 0) + 5, exp: (claims.exp ?? 0) + 60 };
    expectInvalidClient(await send(first, await signAssertion(key, again)), REPLAYED);
    // A fresh jti from the same client is fine.
    expectToken(await send(first, await signAssertion(key, assertionClaims(id, first.clock.now))));
  });

  it('CA-07: one jti is tracked per client: two clients may each use it once', async () => {
    const a = await keyClient();
    const b = await keyClient();
    const jti = 'shared-jti-value';
    expectToken(
      await send(first, await signAssertion(a.key, assertionClaims(a.id, first.clock.now, { jti }))),
    );
    expectToken(
      await send(first, await signAssertion(b.key, assertionClaims(b.id, first.clock.now, { jti }))),
    );
    expectInvalidClient(
      await send(first, await signAssertion(a.key, assertionClaims(a.id, first.clock.now, { jti }))),
      REPLAYED,
    );
  });

  it('CA-07: the spent jti is stored in the database, so a second instance refuses it', async () => {
    const { id, key } = await keyClient();
    const claims = assertionClaims(id, first.clock.now);
    const assertion = await signAssertion(key, claims);
    expectToken(await send(first, assertion));
    expectInvalidClient(await send(second, assertion), REPLAYED);
    expect(await replayRows(id, String(claims.jti))).toBe(1);

    const other = await signAssertion(key, assertionClaims(id, first.clock.now));
    expectToken(await send(second, other));
    expectInvalidClient(await send(first, other), REPLAYED);
  });

  it('CA-07: a replayed assertion is still refused after its exp has passed', async () => {
    const { id, key } = await keyClient();
    const assertion = await signAssertion(key, assertionClaims(id, first.clock.now));
    expectToken(await send(first, assertion));
    first.clock.advanceSeconds(181); // past exp (120 s) and the 60 s tolerance
    expectInvalidClient(await send(second, assertion), 'client_assertion has expired');
  });

  it('CA-07: an assertion valid for one hour (Authlib’s default) is accepted once; its jti is kept until it expires', async () => {
    const { id, key } = await keyClient();
    const skew = first.config.clockToleranceSeconds;
    const issuedAt = Math.floor(first.clock.now / 1000);
    const claims = assertionClaims(id, first.clock.now, { exp: issuedAt + 3600 });
    const assertion = await signAssertion(key, claims);
    expectToken(await send(first, assertion));
    expectInvalidClient(await send(second, assertion), REPLAYED);

    // The marker outlives the assertion: it is kept until exp plus the tolerated skew, so the purge
    // never lets an assertion that is still acceptable through a second time.
    const marker = await first.services.db
      .selectFrom('replay_guard')
      .select('expires_at')
      .where('key', '=', `client_assertion:${id}:${String(claims.jti)}`)
      .executeTakeFirstOrThrow();
    expect(Number(marker.expires_at)).toBe((issuedAt + 3600 + skew) * 1000);
    first.clock.now = (issuedAt + 3600 + skew) * 1000 - 1; // the last instant exp + skew still admits
    await purgeReplayGuard(first.services.db, first.clock.now);
    expectInvalidClient(await send(first, assertion), REPLAYED);
    first.clock.now += 1;
    await purgeReplayGuard(first.services.db, first.clock.now);
    expectInvalidClient(await send(second, assertion), 'client_assertion has expired');
  });

  it('CA-05: exp more than one hour (plus the skew) ahead is invalid_client', async () => {
    const { id, key } = await keyClient();
    const skew = first.config.clockToleranceSeconds;
    const now = Math.floor(first.clock.now / 1000);
    const tooFar = assertionClaims(id, first.clock.now, { exp: now + 3600 + skew + 1 });
    expectInvalidClient(
      await send(first, await signAssertion(key, tooFar)),
      'client_assertion exp is too far ahead',
    );
    const edge = assertionClaims(id, first.clock.now, { exp: now + 3600 + skew });
    expectToken(await send(first, await signAssertion(key, edge)));
  });

  it('CA-07: a jti that is not a string, or missing, is invalid_client', async () => {
    const { id, key } = await keyClient();
    for (const jti of [undefined, 42, '', 'j'.repeat(257)]) {
      const assertion = await signAssertion(key, assertionClaims(id, first.clock.now, { jti }));
      expectInvalidClient(await send(first, assertion), 'client_assertion jti is required');
    }
  });

  it('R-04: the same assertion sent 10 times at once to two instances is accepted exactly once', async () => {
    const { id, key } = await keyClient();
    const claims = assertionClaims(id, first.clock.now);
    const assertion = await signAssertion(key, claims);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => send(i % 2 === 0 ? first : second, assertion)),
    );
    const statuses = responses.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, ...Array(9).fill(401)]);
    for (const res of responses) {
      if (res.statusCode === 200) expectToken(res);
      else expectInvalidClient(res, REPLAYED);
    }
    expect(await replayRows(id, String(claims.jti))).toBe(1);

    // Alike failures are one record per instance and window, plus one with the count of the rest.
    await first.failures.flush();
    await second.failures.flush();
    await first.services.audit.drain();
    await second.services.audit.drain();
    const events = await first.services.db
      .selectFrom('audit_events')
      .select(['event', 'outcome', 'detail'])
      .where('client_id', '=', id)
      .execute();
    expect(events.filter((e) => e.event === 'token.issue')).toHaveLength(1);
    const failures = events.filter((e) => e.event === 'client.auth_failed' && e.outcome === 'failure');
    const represented = failures.reduce(
      (sum, e) => sum + ((JSON.parse(e.detail) as { count?: number }).count ?? 1),
      0,
    );
    expect(represented).toBe(9);
  });

  it('R-04: 10 different assertions of one client sent at once are all accepted', async () => {
    const { id, key } = await keyClient();
    const assertions = await Promise.all(
      Array.from({ length: 10 }, () => signAssertion(key, assertionClaims(id, first.clock.now))),
    );
    const responses = await Promise.all(assertions.map((a, i) => send(i % 2 === 0 ? first : second, a)));
    for (const res of responses) expectToken(res);
  });
});
