import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { b64url, jwtClaims, jwtHeader } from '../../../../test/support/jwt.js';
import { basic, form, introspect, post } from '../../../../test/support/oauth.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';

const INACTIVE = '{"active":false}';

interface Registered {
  id: string;
  secret: string;
}

describe.each(dialects)('introspection (%s)', (dialect) => {
  let server: TestServer;
  let owner: Registered;
  let other: Registered;
  let publicClientId: string;

  async function register(input: Parameters<TestServer['createClient']>[0] = {}): Promise<Registered> {
    const { client, secret } = await server.createClient(input);
    return { id: client.id, secret: secret ?? '' };
  }

  async function tokenFor(client: Registered, params: Record<string, string> = {}): Promise<string> {
    const res = await post(
      server,
      '/oauth/token',
      { grant_type: 'client_credentials', ...params },
      {
        authorization: basic(client.id, client.secret),
      },
    );
    expect(res.statusCode).toBe(200);
    return res.json().access_token as string;
  }

  /** The exact RFC 7662 §2.2 answer for anything not active: that one member, nothing else. */
  async function expectInactive(caller: Registered, token: string): Promise<void> {
    const res = await introspect(server, caller, token);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.payload).toBe(INACTIVE);
  }

  beforeAll(async () => {
    server = await createTestServer(dialect);
    owner = await register({ scopes: ['read', 'write'] });
    other = await register({ scopes: ['read'] });
    const pub = await server.createClient({ kind: 'public', grants: ['device_code'], scopes: ['read'] });
    publicClientId = pub.client.id;
  });
  afterAll(() => server.close());

  describe('200 active', () => {
    it('describes the caller its own valid token with every RFC 7662 member', async () => {
      const token = await tokenFor(owner, { scope: 'read' });
      const claims = jwtClaims(token);
      const res = await introspect(server, owner, token);
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({
        active: true,
        token_type: 'Bearer',
        iss: ISSUER,
        sub: owner.id,
        aud: ISSUER,
        client_id: owner.id,
        scope: 'read',
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti,
      });
      expect(claims.iat).toBe(Math.floor(server.clock.now / 1000));
      expect(claims.exp).toBe(Math.floor(server.clock.now / 1000) + 600);
    });

    it('accepts a token_type_hint, right or wrong', async () => {
      const token = await tokenFor(owner);
      for (const hint of ['access_token', 'refresh_token', 'no_such_type']) {
        const res = await introspect(server, owner, token, { token_type_hint: hint });
        expect(res.statusCode).toBe(200);
        expect(res.json().active).toBe(true);
      }
    });

    it('is active until the second before exp', async () => {
      const token = await tokenFor(owner);
      server.clock.advanceSeconds(599);
      try {
        expect((await introspect(server, owner, token)).json().active).toBe(true);
      } finally {
        server.clock.advanceSeconds(-599);
      }
    });

    it('lets a resource server named in the token aud introspect it', async () => {
      const resourceServer = await register({ scopes: [] });
      const caller = await register({ scopes: ['read'], audiences: [resourceServer.id] });
      const token = await tokenFor(caller, { resource: resourceServer.id });
      const res = await introspect(server, resourceServer, token);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        active: true,
        aud: resourceServer.id,
        client_id: caller.id,
        sub: caller.id,
      });
      // The issuing client still may, and a bystander still may not.
      expect((await introspect(server, caller, token)).json().active).toBe(true);
      await expectInactive(other, token);
    });
  });

  describe('200 inactive (RI-05)', () => {
    it('RI-05: an expired token is {"active":false} only', async () => {
      const token = await tokenFor(owner);
      server.clock.advanceSeconds(601);
      try {
        await expectInactive(owner, token);
      } finally {
        server.clock.advanceSeconds(-601);
      }
      // The same token was active before the clock moved, so the check above measured expiry.
      expect((await introspect(server, owner, token)).json().active).toBe(true);
    });

    it('RI-05: a token exactly at exp is no longer active', async () => {
      const token = await tokenFor(owner);
      server.clock.advanceSeconds(600);
      try {
        await expectInactive(owner, token);
      } finally {
        server.clock.advanceSeconds(-600);
      }
    });

    it('RI-05: a revoked token is {"active":false} only', async () => {
      const token = await tokenFor(owner);
      expect((await introspect(server, owner, token)).json().active).toBe(true);
      const revoked = await post(
        server,
        '/oauth/revoke',
        { token },
        { authorization: basic(owner.id, owner.secret) },
      );
      expect(revoked.statusCode).toBe(200);
      await expectInactive(owner, token);
    });

    it('RI-05: another client\'s token is {"active":false} only, to that other client', async () => {
      const token = await tokenFor(owner);
      await expectInactive(other, token);
      // Still active for its owner: the answer above is about who asked, not the token.
      expect((await introspect(server, owner, token)).json().active).toBe(true);
    });

    it('RI-05: garbage is {"active":false} only', async () => {
      const samples = [
        'garbage',
        'a.b.c',
        `${b64url({ alg: 'EdDSA' })}.${b64url({ sub: 'x' })}.AAAA`,
        'clv_000000000000000000000000000000000000',
        'x'.repeat(10_000),
        '..',
        `${b64url([1])}.${b64url('x')}.AAAA`,
      ];
      for (const token of samples) await expectInactive(owner, token);
    });

    it('RI-05: a token signed by a foreign key under our kid is {"active":false} only', async () => {
      const genuine = await tokenFor(owner);
      const header = jwtHeader(genuine);
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const forged = await new SignJWT(jwtClaims(genuine))
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: String(header.kid) })
        .sign(privateKey);
      await expectInactive(owner, forged);
    });

    it('RI-05: an alg none token is {"active":false} only', async () => {
      const genuine = await tokenFor(owner);
      const header = jwtHeader(genuine);
      const payload = jwtClaims(genuine);
      const unsigned = `${b64url({ alg: 'none', typ: 'at+jwt', kid: header.kid })}.${b64url(payload)}`;
      await expectInactive(owner, `${unsigned}.`);
      // With the genuine signature kept, in case only an empty signature were refused.
      await expectInactive(owner, `${unsigned}.${genuine.split('.')[2]}`);
    });

    it('RI-05: an HS256 token keyed with our public key (algorithm confusion) is {"active":false} only', async () => {
      const genuine = await tokenFor(owner);
      const header = jwtHeader(genuine);
      const jwks = (await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as {
        keys: Array<{ kid: string; x: string }>;
      };
      const publicJwk = jwks.keys.find((k) => k.kid === header.kid);
      expect(publicJwk).toBeDefined();
      const forged = await new SignJWT(jwtClaims(genuine))
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: String(header.kid) })
        .sign(Buffer.from(publicJwk?.x ?? '', 'base64url'));
      await expectInactive(owner, forged);
    });

    it('RI-05: a token whose payload was altered is {"active":false} only', async () => {
      const genuine = await tokenFor(owner, { scope: 'read' });
      const [h, , s] = genuine.split('.');
      const payload = { ...jwtClaims(genuine), scope: 'read write admin' };
      await expectInactive(owner, `${h}.${b64url(payload)}.${s}`);
      const widened = { ...jwtClaims(genuine), exp: Number(jwtClaims(genuine).exp) + 86_400 };
      await expectInactive(owner, `${h}.${b64url(widened)}.${s}`);
    });

    it('RI-05: a token signed by us for another issuer or with another typ is {"active":false} only', async () => {
      const genuine = await tokenFor(owner);
      const [, p, s] = genuine.split('.');
      const header = { ...jwtHeader(genuine), typ: 'JWT' };
      await expectInactive(owner, `${b64url(header)}.${p}.${s}`);
    });
  });

  describe('400', () => {
    it('a missing token is invalid_request', async () => {
      const res = await post(
        server,
        '/oauth/introspect',
        {},
        { authorization: basic(owner.id, owner.secret) },
      );
      expect(res.statusCode).toBe(400);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    });

    it('a repeated token parameter is invalid_request', async () => {
      const token = await tokenFor(owner);
      const res = await post(
        server,
        '/oauth/introspect',
        form([
          ['token', token],
          ['token', token],
        ]),
        {
          authorization: basic(owner.id, owner.secret),
        },
      );
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_request');
      expect(res.json().active).toBeUndefined();
    });
  });

  describe('401 (RI-04)', () => {
    let token: string;
    beforeAll(async () => {
      token = await tokenFor(owner);
    });

    function expectInvalidClient(res: Awaited<ReturnType<typeof post>>, basicScheme = true): void {
      expect(res.statusCode).toBe(401);
      expect(res.headers['cache-control']).toBe('no-store');
      if (basicScheme) expect(res.headers['www-authenticate']).toMatch(/^Basic realm="clavis"/);
      expect(res.json()).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
      expect(res.payload).not.toContain('active');
    }

    it('RI-04: no client authentication is invalid_client, never active:true', async () => {
      expectInvalidClient(await post(server, '/oauth/introspect', { token }));
    });

    it('RI-04: a wrong secret is invalid_client, never active:true', async () => {
      expectInvalidClient(
        await post(
          server,
          '/oauth/introspect',
          { token },
          { authorization: basic(owner.id, `${owner.secret}x`) },
        ),
      );
      expectInvalidClient(
        await post(server, '/oauth/introspect', { token, client_id: owner.id, client_secret: 'wrong' }),
      );
    });

    it('RI-04: an unknown client is invalid_client', async () => {
      expectInvalidClient(
        await post(
          server,
          '/oauth/introspect',
          { token },
          { authorization: basic('svc_nobody', owner.secret) },
        ),
      );
    });

    it('RI-04: a public client (auth none) may not introspect', async () => {
      expectInvalidClient(await post(server, '/oauth/introspect', { token, client_id: publicClientId }));
    });

    it('RI-04: client auth is checked before the token parameter', async () => {
      expectInvalidClient(await post(server, '/oauth/introspect', {}));
    });

    it('RI-04: a failed authentication is audited with its reason and no secret', async () => {
      const wrong = `${owner.secret}-wrong`;
      await post(server, '/oauth/introspect', { token }, { authorization: basic(owner.id, wrong) });
      const rows = await server.services.db
        .selectFrom('audit_events')
        .selectAll()
        .where('event', '=', 'client.auth_failed')
        .where('client_id', '=', owner.id)
        .execute();
      const last = rows.at(-1);
      expect(last?.outcome).toBe('failure');
      expect(JSON.parse(last?.detail ?? '{}')).toEqual({
        endpoint: 'introspection',
        reason: 'wrong or expired secret',
        request_id: expect.any(String),
      });
      for (const row of rows) expect(JSON.stringify(row)).not.toContain(owner.secret);
    });
  });
});
