/**
 * Polling the token endpoint with a device code (RFC 8628 §3.4–3.5): pending, slow_down, denial,
 * expiry, foreign and unknown codes, replay, and the account's state at redemption. Decisions are made
 * in storage (support.ts), as the pages would make them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { jwtClaims } from '../../../../test/support/jwt.js';
import { type Caller, form, introspect, post } from '../../../../test/support/oauth.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import {
  approve,
  countRows,
  DEVICE_GRANT,
  deny,
  deviceRow,
  familyOf,
  poll,
  refresh,
  requestDeviceCode,
} from './support.js';

const PENDING = { error: 'authorization_pending', error_description: 'waiting for the user to approve' };
const SLOW_DOWN = { error: 'slow_down', error_description: 'polling too fast' };
const DENIED = { error: 'access_denied', error_description: 'the request was denied' };
const INVALID_CODE = { error: 'invalid_grant', error_description: 'device_code is invalid' };
const USED_CODE = { error: 'invalid_grant', error_description: 'device_code has already been used' };

describe.each(dialects)('device_code grant (%s)', (dialect) => {
  let server: TestServer;
  let clientA: string;
  let clientB: string;
  let confidential: Caller;
  let userId: string;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    clientA = (await server.createClient({ kind: 'public', scopes: ['openid', 'read'] })).client.id;
    clientB = (await server.createClient({ kind: 'public', scopes: ['openid', 'read'] })).client.id;
    const c = await server.createClient({
      kind: 'confidential',
      grants: ['device_code', 'refresh_token'],
      scopes: ['read'],
    });
    confidential = { id: c.client.id, secret: c.secret ?? '' };
    userId = (await createUser(server)).id;
  });
  afterAll(() => server.close());

  const familiesOf = (clientId: string) =>
    countRows(server, 'token_families', { column: 'client_id', value: clientId });

  describe('400 while undecided', () => {
    it('DF-03: a poll before approval → authorization_pending; the code stays valid', async () => {
      const auth = await requestDeviceCode(server, clientA, 'read');
      const res = await poll(server, clientA, auth.device_code);
      expect(res.statusCode).toBe(400);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual(PENDING);
      server.clock.advanceSeconds(auth.interval);
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(PENDING);
      expect((await deviceRow(server, auth.user_code)).status).toBe('pending');

      expect(await approve(server, auth.user_code, userId)).toBe(true);
      server.clock.advanceSeconds(auth.interval);
      const tokens = await poll(server, clientA, auth.device_code);
      expect(tokens.statusCode).toBe(200);
      expect(jwtClaims(tokens.json().access_token)).toMatchObject({
        sub: userId,
        client_id: clientA,
        scope: 'read',
      });
    });

    it('DF-04: polling faster than interval → slow_down, and the interval is 5 s longer from then on', async () => {
      const auth = await requestDeviceCode(server, clientA, 'read');
      expect(auth.interval).toBe(5);
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(PENDING);
      server.clock.advanceSeconds(1);
      const fast = await poll(server, clientA, auth.device_code);
      expect(fast.statusCode).toBe(400);
      expect(fast.json()).toEqual(SLOW_DOWN);
      expect((await deviceRow(server, auth.user_code)).interval).toBe(10);
      // Exactly the new interval after the slow_down: on time.
      server.clock.advanceSeconds(10);
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(PENDING);
      // The old interval is no longer enough.
      server.clock.advanceSeconds(5);
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(SLOW_DOWN);
    });

    it('DF-04: a poll after the old interval but before old+5 s is slow_down again; each slow_down adds 5 s', async () => {
      const auth = await requestDeviceCode(server, clientA, 'read');
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(PENDING);
      server.clock.advanceSeconds(1);
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(SLOW_DOWN);
      server.clock.advanceSeconds(6);
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(SLOW_DOWN);
      expect((await deviceRow(server, auth.user_code)).interval).toBe(15);
      server.clock.advanceSeconds(14);
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(SLOW_DOWN);
      server.clock.advanceSeconds(20);
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(PENDING);
    });

    it('DF-04: the poll counter is shared by two instances on one database', async () => {
      const second = await createTestServer(dialect, { database: server.database, clock: server.clock });
      try {
        const auth = await requestDeviceCode(server, clientA, 'read');
        expect((await poll(server, clientA, auth.device_code)).json()).toEqual(PENDING);
        server.clock.advanceSeconds(1);
        expect((await poll(second, clientA, auth.device_code)).json()).toEqual(SLOW_DOWN);
        server.clock.advanceSeconds(6);
        expect((await poll(server, clientA, auth.device_code)).json()).toEqual(SLOW_DOWN);
        server.clock.advanceSeconds(15);
        expect((await poll(second, clientA, auth.device_code)).json()).toEqual(PENDING);
        server.clock.advanceSeconds(15);
        expect((await poll(server, clientA, auth.device_code)).json()).toEqual(PENDING);
      } finally {
        await second.close();
      }
    });

    it("DF-05: client A's device_code polled by client B → invalid_grant; A's code still works", async () => {
      const auth = await requestDeviceCode(server, clientA, 'read');
      const foreign = await poll(server, clientB, auth.device_code);
      expect(foreign.statusCode).toBe(400);
      expect(foreign.json()).toEqual(INVALID_CODE);
      // B's poll did not count as A's: A's first poll is on time.
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(PENDING);
      expect(await approve(server, auth.user_code, userId)).toBe(true);
      server.clock.advanceSeconds(5);
      // Approved, B still gets nothing, and the code is not spent by B's attempt.
      expect((await poll(server, clientB, auth.device_code)).json()).toEqual(INVALID_CODE);
      expect(await familiesOf(clientB)).toBe(0);
      const tokens = await poll(server, clientA, auth.device_code);
      expect(tokens.statusCode).toBe(200);
      expect(jwtClaims(tokens.json().access_token)).toMatchObject({ sub: userId, client_id: clientA });
    });

    it('DF-05: the confidential owner of a code, presented by a public client → invalid_grant', async () => {
      const auth = await requestDeviceCode(server, confidential, 'read');
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(INVALID_CODE);
      expect((await poll(server, confidential, auth.device_code)).json()).toEqual(PENDING);
    });

    it('DF-06: a poll after expires_in → expired_token; the code can no longer be approved', async () => {
      const auth = await requestDeviceCode(server, clientA, 'read');
      server.clock.advanceSeconds(auth.expires_in - 1);
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(PENDING);
      server.clock.advanceSeconds(1);
      const expired = await poll(server, clientA, auth.device_code);
      expect(expired.statusCode).toBe(400);
      expect(expired.json()).toEqual({
        error: 'expired_token',
        error_description: 'the device code has expired',
      });
      expect(await approve(server, auth.user_code, userId)).toBe(false);
      server.clock.advanceSeconds(60);
      expect((await poll(server, clientA, auth.device_code)).json().error).toBe('expired_token');
    });

    it('DF-06: an approved code not redeemed before expires_in → expired_token, no tokens', async () => {
      const { client } = await server.createClient({ kind: 'public', scopes: ['read'] });
      const auth = await requestDeviceCode(server, client.id, 'read');
      expect(await approve(server, auth.user_code, userId)).toBe(true);
      server.clock.advanceSeconds(auth.expires_in);
      expect((await poll(server, client.id, auth.device_code)).json().error).toBe('expired_token');
      expect(await familiesOf(client.id)).toBe(0);
    });
  });

  describe('400 after a decision', () => {
    it('DF-07: denied → access_denied on every later poll; an approval after the denial fails', async () => {
      const { client } = await server.createClient({ kind: 'public', scopes: ['read'] });
      const auth = await requestDeviceCode(server, client.id, 'read');
      expect((await poll(server, client.id, auth.device_code)).json()).toEqual(PENDING);
      expect(await deny(server, auth.user_code, userId)).toBe(true);
      for (let i = 0; i < 3; i++) {
        server.clock.advanceSeconds(5);
        const res = await poll(server, client.id, auth.device_code);
        expect(res.statusCode).toBe(400);
        expect(res.json()).toEqual(DENIED);
      }
      // Browser back, then Approve: the decision is final.
      expect(await approve(server, auth.user_code, userId)).toBe(false);
      expect(await deny(server, auth.user_code, userId)).toBe(false);
      expect((await deviceRow(server, auth.user_code)).status).toBe('denied');
      server.clock.advanceSeconds(5);
      expect((await poll(server, client.id, auth.device_code)).json()).toEqual(DENIED);
      // Polling fast after a denial is still a denial, never slow_down.
      expect((await poll(server, client.id, auth.device_code)).json()).toEqual(DENIED);
      expect(await familiesOf(client.id)).toBe(0);
    });

    it("DF-08: redeeming an approved code twice → 2nd invalid_grant; the 1st's tokens are revoked, audited", async () => {
      const auth = await requestDeviceCode(server, confidential, 'read');
      expect(await approve(server, auth.user_code, userId)).toBe(true);
      const first = await poll(server, confidential, auth.device_code);
      expect(first.statusCode).toBe(200);
      const tokens = first.json();
      expect((await introspect(server, confidential, tokens.access_token)).json().active).toBe(true);
      const familyId = await familyOf(server, auth.user_code);

      const second = await poll(server, confidential, auth.device_code);
      expect(second.statusCode).toBe(400);
      expect(second.json()).toEqual(USED_CODE);

      expect((await introspect(server, confidential, tokens.access_token)).json()).toEqual({ active: false });
      expect((await introspect(server, confidential, tokens.refresh_token)).json()).toEqual({
        active: false,
      });
      const refreshed = await refresh(server, confidential, tokens.refresh_token);
      expect(refreshed.statusCode).toBe(400);
      expect(refreshed.json().error).toBe('invalid_grant');
      expect(await familiesOf(confidential.id)).toBe(1);

      const records = (await auditRecords(server, 'token.family_revoke')).filter(
        (r) => r.detail.family === familyId,
      );
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        outcome: 'failure',
        client_id: confidential.id,
        detail: { family: familyId, reason: 'device_code_replayed', already_revoked: false },
      });
      // A third presentation: still invalid_grant, and nothing more to revoke.
      expect((await poll(server, confidential, auth.device_code)).json()).toEqual(USED_CODE);
    });

    it('DF-09: a random device_code → invalid_grant, the same body as a foreign code', async () => {
      const auth = await requestDeviceCode(server, clientA, 'read');
      const foreign = await poll(server, clientB, auth.device_code);
      const random = await poll(server, clientB, 'Vx3yQmB2o0sK9cJbH1u4R7tLwZpA8eN6fGdIhYkCjXq');
      const short = await poll(server, clientB, 'x');
      for (const res of [foreign, random, short]) {
        expect(res.statusCode).toBe(400);
        expect(res.headers['cache-control']).toBe('no-store');
      }
      expect(random.body).toBe(foreign.body);
      expect(short.body).toBe(foreign.body);
      expect(random.json()).toEqual(INVALID_CODE);
    });

    it('a device code names its request and carries 256 random bits; the secret part is checked, not just the id', async () => {
      const auth = await requestDeviceCode(server, clientA, 'read');
      const other = await requestDeviceCode(server, clientA, 'read');
      const [id, secret] = auth.device_code.split('.') as [string, string];
      expect(id).toMatch(/^dev_[0-9a-f]{12}[A-Za-z0-9_-]{16}$/);
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // The id is the request's (the audit record names it); the stored hash is of the whole code.
      const row = await deviceRow(server, auth.user_code);
      expect(row.id).toBe(id);
      expect(row.device_code_hash).not.toContain(secret);
      const flipped = `${secret.startsWith('A') ? 'B' : 'A'}${secret.slice(1)}`;
      const otherSecret = other.device_code.split('.')[1] as string;
      const otherId = other.device_code.split('.')[0] as string;
      for (const forged of [
        `${id}.${flipped}`, // the right request, a wrong secret
        `${id}.${otherSecret}`, // another request's secret under this id
        `${otherId}.${secret}`, // this secret under another request's id
        `${id}.`,
        `${id}`,
        `${id}.${secret}.${secret}`,
      ]) {
        const res = await poll(server, clientA, forged);
        expect(res.statusCode, forged).toBe(400);
        expect(res.json(), forged).toEqual(INVALID_CODE);
      }
      // Neither genuine code was spent or slowed down by the forgeries.
      expect((await poll(server, clientA, auth.device_code)).json()).toEqual(PENDING);
      expect((await poll(server, clientA, other.device_code)).json()).toEqual(PENDING);
    });

    for (const state of ['disabled', 'locked'] as const) {
      it(`DF-13: the person ${state} after approval → access_denied at redemption, no tokens`, async () => {
        const { client } = await server.createClient({ kind: 'public', scopes: ['read'] });
        const person = (await createUser(server)).id;
        const auth = await requestDeviceCode(server, client.id, 'read');
        expect(await approve(server, auth.user_code, person)).toBe(true);
        await server.services.db
          .updateTable('users')
          .set(state === 'disabled' ? { disabled_at: server.clock.now } : { locked_at: server.clock.now })
          .where('id', '=', person)
          .execute();
        for (let i = 0; i < 2; i++) {
          server.clock.advanceSeconds(5);
          const res = await poll(server, client.id, auth.device_code);
          expect(res.statusCode).toBe(400);
          expect(res.json()).toEqual({
            error: 'access_denied',
            error_description: 'the account cannot sign in',
          });
        }
        expect(await familiesOf(client.id)).toBe(0);
        expect((await deviceRow(server, auth.user_code)).consumed_at).toBeNull();
      });
    }

    it('DF-13: a person already disabled when approving gets no tokens either', async () => {
      const { client } = await server.createClient({ kind: 'public', scopes: ['read'] });
      const person = (await createUser(server, { disabled: true })).id;
      const auth = await requestDeviceCode(server, client.id, 'read');
      expect(await approve(server, auth.user_code, person)).toBe(true);
      expect((await poll(server, client.id, auth.device_code)).json().error).toBe('access_denied');
      expect(await familiesOf(client.id)).toBe(0);
    });
  });

  describe('bad input on the token endpoint', () => {
    it('a missing device_code → 400 invalid_request', async () => {
      const res = await post(server, '/oauth/token', { grant_type: DEVICE_GRANT, client_id: clientA });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_request',
        error_description: "missing parameter 'device_code'",
      });
    });

    it('a duplicated device_code → 400 invalid_request, and the code is not touched', async () => {
      const auth = await requestDeviceCode(server, clientA, 'read');
      const res = await post(
        server,
        '/oauth/token',
        form([
          ['grant_type', DEVICE_GRANT],
          ['client_id', clientA],
          ['device_code', auth.device_code],
          ['device_code', auth.device_code],
        ]),
      );
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_request',
        error_description: "parameter 'device_code' is repeated",
      });
      expect((await deviceRow(server, auth.user_code)).last_polled_at).toBeNull();
    });

    it('a 10 kB device_code → 400 invalid_grant', async () => {
      const res = await poll(server, clientA, 'A'.repeat(10 * 1024));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(INVALID_CODE);
    });

    it('a JSON body → 400 invalid_request', async () => {
      const auth = await requestDeviceCode(server, clientA, 'read');
      const res = await server.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({
          grant_type: DEVICE_GRANT,
          client_id: clientA,
          device_code: auth.device_code,
        }),
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_request',
        error_description: 'content type must be application/x-www-form-urlencoded',
      });
      expect((await deviceRow(server, auth.user_code)).last_polled_at).toBeNull();
    });

    it('an unknown client_id → 401 invalid_client', async () => {
      const auth = await requestDeviceCode(server, clientA, 'read');
      const res = await poll(server, 'cli_doesnotexist', auth.device_code);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: 'invalid_client',
        error_description: 'client authentication failed',
      });
    });

    it('a client without the device grant polling → 400 unauthorized_client', async () => {
      const { client, secret } = await server.createClient({ kind: 'confidential', scopes: ['read'] });
      const auth = await requestDeviceCode(server, clientA, 'read');
      const res = await poll(server, { id: client.id, secret: secret ?? '' }, auth.device_code);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'unauthorized_client',
        error_description: 'the client may not use this grant',
      });
    });
  });
});
