/**
 * SS-01: an upstream ID token with a wrong `iss`, a wrong `aud`, a wrong `nonce`, `alg: none`, a key the
 * provider does not publish, or an expiry in the past: the sign-in fails with a page, nobody is signed
 * in, nobody is provisioned. The upstream here is hand-built (discovery, an authorization endpoint that
 * sends the browser straight back, a token endpoint answering the forged token), since a real provider
 * will not sign such tokens.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminIdps } from '@clavis/server';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { b64url } from '../../../../test/support/jwt.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  type PagesServer,
} from '../pages/support.js';

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
type Forgery =
  | 'valid'
  | 'wrong_iss'
  | 'wrong_aud'
  | 'wrong_nonce'
  | 'alg_none'
  | 'unpublished_key'
  | 'unknown_kid'
  | 'expired'
  | 'slow_token';

class ForgingUpstream {
  mode: Forgery = 'valid';
  nonce = '';
  private constructor(
    readonly server: Server,
    readonly issuer: string,
    private readonly keys: { published: SigningKey; other: SigningKey; jwk: Record<string, unknown> },
  ) {}

  static async start(): Promise<ForgingUpstream> {
    const published = await generateKeyPair('RS256', { extractable: true });
    const other = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(published.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const upstream = new ForgingUpstream(server, issuer, {
      published: published.privateKey,
      other: other.privateKey,
      jwk,
    });
    server.on('request', (req, res) => {
      upstream.handle(req).then(
        ({ status, headers, body }) => {
          res.writeHead(status, headers);
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
    });
    return upstream;
  }

  async handle(
    req: IncomingMessage,
  ): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const url = new URL(req.url ?? '/', this.issuer);
    const json = (value: unknown) => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(value),
    });
    if (url.pathname === '/.well-known/openid-configuration') {
      return json({
        issuer: this.issuer,
        authorization_endpoint: `${this.issuer}/auth`,
        token_endpoint: `${this.issuer}/token`,
        jwks_uri: `${this.issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') return json({ keys: [this.keys.jwk] });
    if (url.pathname === '/auth') {
      this.nonce = url.searchParams.get('nonce') ?? '';
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', 'code-1');
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      return { status: 302, headers: { location: back.href }, body: '' };
    }
    if (url.pathname === '/token') {
      for await (const _chunk of req) {
        /* the form is not checked: this upstream answers whatever it is told to */
      }
      if (this.mode === 'slow_token') await new Promise((resolve) => setTimeout(resolve, 3000));
      return json({
        access_token: 'at',
        token_type: 'Bearer',
        expires_in: 60,
        id_token: await this.idToken(),
      });
    }
    return { status: 404, headers: {}, body: '' };
  }

  async idToken(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: JWTPayload = {
      iss: this.mode === 'wrong_iss' ? 'https://evil.example' : this.issuer,
      sub: 'ada-1',
      aud: this.mode === 'wrong_aud' ? 'someone-else' : 'clavis',
      iat: now - (this.mode === 'expired' ? 7200 : 0),
      exp: this.mode === 'expired' ? now - 3600 : now + 300,
      nonce: this.mode === 'wrong_nonce' ? 'not-the-nonce' : this.nonce,
      preferred_username: 'ada',
    };
    if (this.mode === 'alg_none')
      return `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}.`;
    const key =
      this.mode === 'unpublished_key' || this.mode === 'unknown_kid' ? this.keys.other : this.keys.published;
    const kid = this.mode === 'unknown_kid' ? 'k2' : 'k1';
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe.each(dialects)('SS-01: the upstream ID token is checked (%s)', (dialect) => {
  let server: PagesServer;
  let upstream: ForgingUpstream;
  beforeAll(async () => {
    server = await createPagesServer(dialect, { config: { upstreamTimeoutMs: 500 } });
    upstream = await ForgingUpstream.start();
    await adminIdps.createIdp(
      {
        db: server.services.db,
        audit: server.services.audit,
        clock: server.clock.read,
        idpSealKey: server.services.idpKeys.seal,
      },
      { name: 'Forge', issuer: upstream.issuer, clientId: 'clavis', clientSecret: 'secret' },
      { type: 'admin', id: 'ops' },
    );
  });
  afterAll(async () => {
    await upstream.close();
    await server.close();
  });

  async function attempt(mode: Forgery) {
    upstream.mode = mode;
    const client = await createDeviceClient(server);
    const request = await createDeviceRequest(server, client);
    const browser = new Browser(server);
    await browser.enterCode(request.shown);
    const page = await browser.get('/device/login');
    const href = /href="(\/device\/sso\/start\?[^"]+)"/
      .exec(page.body)?.[1]
      ?.replaceAll('&amp;', '&') as string;
    const started = await browser.get(href);
    const toUpstream = await fetch(started.headers.location as string, { redirect: 'manual' });
    const callback = new URL(toUpstream.headers.get('location') as string);
    return browser.get(`${callback.pathname}${callback.search}`);
  }

  const signedIn = async () =>
    (
      await server.services.db
        .selectFrom('sessions')
        .select('user_id')
        .where('user_id', 'is not', null)
        .execute()
    ).length;
  const users = async () => (await server.services.db.selectFrom('users').select('id').execute()).length;

  it.each([
    ['wrong_iss', 'id_token_invalid'],
    ['wrong_aud', 'id_token_invalid'],
    ['wrong_nonce', 'id_token_invalid'],
    ['alg_none', 'id_token_invalid'],
    // Another key under the published kid: the signature does not verify.
    ['unpublished_key', 'id_token_invalid'],
    // A kid the provider does not publish (even after refetching its keys).
    ['unknown_kid', 'keys_unknown'],
    ['expired', 'id_token_invalid'],
  ] as const)('SS-01: %s: login fails with a page, no session, nobody provisioned', async (mode, reason) => {
    const res = await attempt(mode);
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    expect(res.headers['content-type']).toContain('text/html');
    expect(await signedIn()).toBe(0);
    expect(await users()).toBe(0);
    const failures = await auditRecords(server, 'user.sign_in_failed');
    expect(failures.at(-1)?.detail).toMatchObject({ method: 'upstream', upstream_issuer: upstream.issuer });
    expect(failures.at(-1)?.detail.reason).toBe(reason);
  });

  it('F-05: a token endpoint that does not answer in time: a page, audited, no session', async () => {
    const res = await attempt('slow_token');
    expect(res.statusCode).toBe(502);
    expect(res.body).toContain('did not answer in time');
    expect(await signedIn()).toBe(0);
    expect((await auditRecords(server, 'user.sign_in_failed')).at(-1)?.detail).toMatchObject({
      reason: 'upstream_unavailable',
    });
  });

  it('the same upstream with a valid token signs the person in (the control)', async () => {
    const res = await attempt('valid');
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/device/consent');
    expect(await signedIn()).toBe(1);
  });
});
