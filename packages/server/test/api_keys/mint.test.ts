import { checkApiKey } from '@clavis/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { jtiOf, jwtClaims } from '../../../../test/support/jwt.js';
import { basic, post } from '../../../../test/support/oauth.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import { obtainTokens } from '../device_flow/support.js';
import { type Caller, exchange, keyRow, postFrom, registerCaller, verify } from './support.js';

describe.each(dialects)('per-job keys minted with keys:mint (%s)', (dialect) => {
  let server: TestServer;
  let job: Caller;
  let plain: Caller;
  let rs: Caller;

  async function tokenFor(
    caller: Caller,
    scope: string | undefined,
    extra: Record<string, string> = {},
  ): Promise<string> {
    const res = await post(
      server,
      '/oauth/token',
      { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }), ...extra },
      {
        authorization: basic(caller.id, caller.secret),
      },
    );
    expect(res.statusCode, res.body).toBe(200);
    return res.json().access_token as string;
  }

  function mint(token: string | undefined, params: Record<string, string> = {}) {
    return postFrom(server, '/oauth/api-keys', params, {
      remoteAddress: '192.0.2.10',
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
  }

  beforeAll(async () => {
    server = await createTestServer(dialect);
    job = await registerCaller(server, { scopes: ['read', 'write', 'keys:mint'] });
    plain = await registerCaller(server, { scopes: ['read', 'write'] });
    rs = await registerCaller(server);
  });
  afterAll(() => server.close());

  describe('201', () => {
    it("mints a key for the token's principal: default lifetime = the per-job maximum; audited with the jti", async () => {
      const token = await tokenFor(job, 'read write keys:mint');
      const res = await mint(token, { name: 'deploy step' });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json();
      expect(body).toEqual({
        id: expect.stringMatching(/^key_/),
        key: expect.any(String),
        owner: job.id,
        scopes: ['read', 'write'],
        expires_at: new Date(server.clock.now + 3600_000).toISOString(),
        max_uses: null,
      });
      expect(checkApiKey(body.key)).toBe('valid');
      const jti = jtiOf(token);
      const row = await keyRow(server, body.id);
      expect(row).toMatchObject({
        minted_by_jti: jti,
        owner_type: 'client',
        owner_id: job.id,
        name: 'deploy step',
        created_from: '192.0.2.10',
      });
      const audit = (await auditRecords(server, 'api_key.mint')).filter(
        (r) => r.detail.api_key_id === body.id,
      );
      expect(audit).toHaveLength(1);
      expect(audit[0]?.detail.minted_by_jti).toBe(jti);
      expect(JSON.stringify(audit)).not.toContain(body.key);
      const used = await verify(server, rs, { key: body.key });
      expect(used.statusCode).toBe(200);
      expect(used.json().owner).toBe(job.id);
    });

    it('narrows scopes, takes a shorter ttl (seconds or duration), one use, an allow-list', async () => {
      const token = await tokenFor(job, 'read write keys:mint');
      const res = await mint(token, {
        scope: 'read',
        ttl: '15m',
        max_uses: '1',
        cidr: '10.0.0.0/8 2001:db8::/32',
      });
      expect(res.statusCode, res.body).toBe(201);
      const body = res.json();
      expect(body).toMatchObject({
        scopes: ['read'],
        max_uses: 1,
        expires_at: new Date(server.clock.now + 900_000).toISOString(),
      });
      expect((await verify(server, rs, { key: body.key, ip: '10.9.9.9' })).statusCode).toBe(200);
      expect((await verify(server, rs, { key: body.key, ip: '10.9.9.9' })).statusCode).toBe(401);
      const seconds = await mint(token, { ttl: '600' });
      expect(seconds.json().expires_at).toBe(new Date(server.clock.now + 600_000).toISOString());
    });

    it('a client whose tokens are for a resource server asks for the issuer as audience to mint', async () => {
      const scoped = await registerCaller(server, {
        scopes: ['read', 'keys:mint'],
        audiences: ['https://rs.example'],
      });
      const token = await tokenFor(scoped, 'read keys:mint', { resource: ISSUER });
      expect(jwtClaims(token).aud).toBe(ISSUER);
      const res = await mint(token);
      expect(res.statusCode, res.body).toBe(201);
    });

    it("a person's device-flow token mints a key owned by that person", async () => {
      const cli = await server.createClient({
        kind: 'public',
        grants: ['device_code'],
        scopes: ['read', 'keys:mint'],
      });
      const username = 'minting_person';
      const userId = (await createUser(server, { username })).id;
      const tokens = await obtainTokens(server, cli.client.id, userId, 'read keys:mint');
      const res = await mint(tokens.access_token);
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({ owner: `user:${username}`, scopes: ['read'] });
      const row = await keyRow(server, res.json().id);
      expect(row).toMatchObject({ owner_type: 'user', owner_id: userId });
    });
  });

  describe('400', () => {
    it('a ttl over the per-job maximum, or malformed; bad max_uses or cidr', async () => {
      const token = await tokenFor(job, 'read keys:mint');
      const cases: Array<Record<string, string>> = [
        { ttl: '2h' },
        { ttl: '3601' },
        { ttl: '0' },
        { ttl: 'soon' },
        { max_uses: '0' },
        { max_uses: '-1' },
        { max_uses: 'x' },
        { cidr: 'fe80::1%eth0' },
        { cidr: '10.0.0.1/8' },
        { name: 'a\u0001b' },
      ];
      for (const params of cases) {
        const res = await mint(token, params);
        expect(res.statusCode, JSON.stringify(params)).toBe(400);
        expect(res.json().error, JSON.stringify(params)).toBe('invalid_request');
      }
    });

    it("scopes beyond the token's, and keys:mint itself, are invalid_scope", async () => {
      const token = await tokenFor(job, 'read keys:mint');
      for (const scope of ['write', 'read write', 'keys:mint', 'read keys:mint']) {
        const res = await mint(token, { scope });
        expect(res.statusCode, scope).toBe(400);
        expect(res.json().error).toBe('invalid_scope');
      }
      const onlyMint = await tokenFor(job, 'keys:mint');
      const nothing = await mint(onlyMint);
      expect(nothing.statusCode).toBe(400);
      expect(nothing.json().error).toBe('invalid_scope');
    });
  });

  describe('429', () => {
    it('one access token mints at most 100 keys', async () => {
      const token = await tokenFor(job, 'read keys:mint');
      const codes: number[] = [];
      for (let i = 0; i < 101; i++) codes.push((await mint(token, { ttl: '60' })).statusCode);
      expect(codes.filter((c) => c === 201)).toHaveLength(100);
      expect(codes[100]).toBe(429);
      // Another token has its own allowance.
      expect((await mint(await tokenFor(job, 'read keys:mint'))).statusCode).toBe(201);
    });
  });

  describe('401 / 403', () => {
    it('without keys:mint: 403 insufficient_scope', async () => {
      for (const token of [await tokenFor(job, 'read'), await tokenFor(plain, 'read write')]) {
        const res = await mint(token);
        expect(res.statusCode).toBe(403);
        expect(res.json().error).toBe('insufficient_scope');
        expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
      }
    });

    it('keys:mint is granted only when asked for: a request without scope never gets it', async () => {
      const token = await tokenFor(job, undefined);
      expect(jwtClaims(token).scope).toBe('read write');
      const res = await mint(token);
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toBe('insufficient_scope');
      const cli = await server.createClient({
        kind: 'public',
        grants: ['device_code'],
        scopes: ['read', 'keys:mint'],
      });
      const device = await post(server, '/oauth/device_authorization', { client_id: cli.client.id });
      expect(device.statusCode, device.body).toBe(200);
      const pending = await server.services.db
        .selectFrom('device_codes')
        .select('scopes')
        .where('client_id', '=', cli.client.id)
        .executeTakeFirstOrThrow();
      // A device request without scope asks for the minimal `openid profile`, within this client's ceiling.
      expect(JSON.parse(pending.scopes)).toEqual([]);
    });

    it('a keys:mint token minted for another audience: 401 invalid_token', async () => {
      const scoped = await registerCaller(server, {
        scopes: ['read', 'keys:mint'],
        audiences: ['https://rs.example'],
      });
      const token = await tokenFor(scoped, 'read keys:mint');
      expect(jwtClaims(token).aud).toBe('https://rs.example');
      const res = await mint(token);
      expect(res.statusCode, res.body).toBe(401);
      expect(res.json()).toEqual({
        error: 'invalid_token',
        error_description: 'the access token is not for this server',
      });
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    });

    it('a token obtained from an API key cannot mint', async () => {
      const token = await tokenFor(job, 'read keys:mint');
      const minted = (await mint(token)).json().key as string;
      const fromKey = (await exchange(server, minted)).json().access_token as string;
      const res = await mint(fromKey);
      expect(res.statusCode).toBe(403);
    });

    it('a revoked, expired, foreign or missing token: 401 invalid_token with WWW-Authenticate', async () => {
      const revoked = await tokenFor(job, 'read keys:mint');
      const r = await post(
        server,
        '/oauth/revoke',
        { token: revoked },
        { authorization: basic(job.id, job.secret) },
      );
      expect(r.statusCode).toBe(200);
      const expiring = await tokenFor(job, 'read keys:mint');
      server.clock.advanceSeconds(601);
      const forged = `${expiring.split('.').slice(0, 2).join('.')}.AAAA`;
      for (const token of [revoked, expiring, forged, 'garbage', undefined]) {
        const res = await mint(token);
        expect(res.statusCode, String(token)).toBe(401);
        expect(res.json().error).toBe('invalid_token');
        // RFC 6750 §3.1: a request with no token at all gets the challenge without an error code.
        if (token === undefined) expect(res.headers['www-authenticate']).toBe('Bearer realm="clavis"');
        else expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
      }
      const basicAuth = await postFrom(
        server,
        '/oauth/api-keys',
        {},
        { headers: { authorization: basic(job.id, job.secret) } },
      );
      expect(basicAuth.statusCode).toBe(401);
    });

    it("a disabled principal's token no longer mints", async () => {
      const doomed = await registerCaller(server, { scopes: ['read', 'keys:mint'] });
      const token = await tokenFor(doomed, 'read keys:mint');
      await server.services.db
        .updateTable('clients')
        .set({ disabled_at: server.clock.now })
        .where('id', '=', doomed.id)
        .execute();
      expect((await mint(token)).statusCode).toBe(401);
    });
  });
});
