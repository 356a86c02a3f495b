/**
 * Single sign-on through a real upstream (oidc-provider on loopback): the first sign-in provisions and
 * links the person, the second reuses the link; MFA from the provider's `amr`/`acr` when trusted, the
 * local second factor otherwise; group refusal; and each failure — wrong state, a replayed callback,
 * another browser, a wrong nonce, a wrong PKCE verifier, a provider down or slow, rotated keys, a
 * username taken locally — is a page, audited, with nothing half-created.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminIdps } from '@clavis/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { ISSUER } from '../../../../test/support/test_server.js';
import { createUser } from '../../../../test/support/users.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  deviceCodeRow,
  type PagesServer,
} from '../pages/support.js';
import { TestUpstream } from './upstream.js';

const CALLBACK = `${ISSUER}/device/sso/callback`;
const ADMIN = { type: 'admin' as const, id: 'ops' };

describe.each(dialects)('single sign-on through an upstream provider (%s)', (dialect) => {
  let server: PagesServer;
  let upstream: TestUpstream;
  const closers: Array<() => Promise<void>> = [];

  const idpDeps = () => ({
    db: server.services.db,
    audit: server.services.audit,
    clock: server.clock.read,
    idpSealKey: server.services.idpKeys.seal,
  });
  const createIdp = (input: Partial<adminIdps.CreateIdpInput> = {}) =>
    adminIdps.createIdp(
      idpDeps(),
      {
        name: 'Acme SSO',
        issuer: upstream.issuer,
        clientId: upstream.clientId,
        clientSecret: upstream.clientSecret,
        scopes: ['profile', 'email', 'groups'],
        ...input,
      },
      ADMIN,
    );

  beforeEach(async () => {
    server = await createPagesServer(dialect, { config: { upstreamTimeoutMs: 700 } });
    upstream = await TestUpstream.start(CALLBACK);
    upstream.accounts.set('ada-1', {
      sub: 'ada-1',
      preferred_username: 'ada',
      email: 'ada@acme.test',
      groups: ['eng'],
    });
    upstream.accounts.set('bob-1', { sub: 'bob-1', preferred_username: 'bob', groups: ['sales'] });
  });
  afterEach(async () => {
    await upstream.close();
    await server.close();
    for (const close of closers.splice(0)) await close();
  });

  /** A browser holding a fresh device request, on the sign-in page. */
  async function browserWithRequest(options: { requireMfa?: boolean } = {}) {
    const client = await createDeviceClient(server, options);
    const request = await createDeviceRequest(server, client);
    const browser = new Browser(server);
    await browser.enterCode(request.shown);
    return { browser, request };
  }

  /** Clicks "Sign in with …": the redirect to the provider. */
  async function start(browser: Browser): Promise<string> {
    const page = await browser.get('/device/login');
    const href = /href="(\/device\/sso\/start\?[^"]+)"/.exec(page.body)?.[1]?.replaceAll('&amp;', '&');
    expect(href, page.body).toBeDefined();
    const res = await browser.get(href as string);
    expect(res.statusCode, res.body).toBe(303);
    return res.headers.location as string;
  }

  const back = (browser: Browser, url: URL) => browser.get(`${url.pathname}${url.search}`);

  async function signInUpstream(browser: Browser, tamper?: (url: URL) => void) {
    const callback = await upstream.authorize(await start(browser), tamper);
    return { callback, res: await back(browser, callback) };
  }

  const userCount = async () =>
    Number(
      (
        await server.services.db
          .selectFrom('users')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const failures = async () => (await auditRecords(server, 'user.sign_in_failed')).map((r) => r.detail);

  it('the first sign-in provisions and links the person; the second reuses the link; consent as usual', async () => {
    await createIdp();
    const { browser, request } = await browserWithRequest();
    const login = await browser.get('/device/login');
    expect(login.body).toContain('Sign in with Acme SSO');
    expect(login.body).toContain('name="password"');

    const { res } = await signInUpstream(browser);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/device/consent');
    const consent = await browser.get('/device/consent');
    expect(consent.body).toContain('<strong>ada</strong>');
    const approved = await browser.post('/device/consent', {
      action: 'approve',
      request: Browser.requestOf(consent) as string,
    });
    expect(approved.headers.location).toBe('/device/done?outcome=approved');

    const link = await server.services.db.selectFrom('identity_links').selectAll().executeTakeFirstOrThrow();
    expect(link).toMatchObject({ issuer: upstream.issuer, subject: 'ada-1' });
    const row = await deviceCodeRow(server, request.id);
    expect(row.user_id).toBe(link.user_id);
    expect(JSON.parse(row.amr as string)).toEqual(['pwd']);

    const links = await auditRecords(server, 'idp.link');
    expect(links).toHaveLength(1);
    expect(links[0]?.detail).toMatchObject({
      upstream_issuer: upstream.issuer,
      upstream_subject: 'ada-1',
      provisioned: true,
    });
    const signIns = await auditRecords(server, 'user.sign_in');
    expect(signIns.at(-1)?.detail).toMatchObject({
      method: 'upstream',
      upstream_subject: 'ada-1',
      mfa: false,
      provisioned: true,
    });

    // Again, from another browser: the same person, no new user, no new link.
    const users = await userCount();
    const second = await browserWithRequest();
    const { res: again } = await signInUpstream(second.browser);
    expect(again.headers.location).toBe('/device/consent');
    const consent2 = await second.browser.get('/device/consent');
    await second.browser.post('/device/consent', {
      action: 'approve',
      request: Browser.requestOf(consent2) as string,
    });
    expect((await deviceCodeRow(server, second.request.id)).user_id).toBe(link.user_id);
    expect(await userCount()).toBe(users);
    expect(await auditRecords(server, 'idp.link')).toHaveLength(1);
  });

  it('MFA: an amr naming a second factor satisfies a client that requires MFA only when the provider is trusted for it', async () => {
    const idp = await createIdp({ mfaFromAmr: true });
    upstream.next = { sub: 'ada-1', amr: ['pwd', 'otp'] };
    const trusted = await browserWithRequest({ requireMfa: true });
    const { res } = await signInUpstream(trusted.browser);
    expect(res.headers.location).toBe('/device/consent');
    const consent = await trusted.browser.get('/device/consent');
    await trusted.browser.post('/device/consent', {
      action: 'approve',
      request: Browser.requestOf(consent) as string,
    });
    expect(JSON.parse((await deviceCodeRow(server, trusted.request.id)).amr as string)).toEqual([
      'pwd',
      'otp',
      'mfa',
    ]);

    // Not trusted: the same assertion does not count; the person enrols the local second factor.
    await adminIdps.updateIdp(idpDeps(), idp.id, { mfaFromAmr: false }, ADMIN);
    const untrusted = await browserWithRequest({ requireMfa: true });
    expect((await signInUpstream(untrusted.browser)).res.headers.location).toBe('/device/mfa/setup');

    // Without any second factor upstream, even a trusted provider leads to the local one.
    await adminIdps.updateIdp(idpDeps(), idp.id, { mfaFromAmr: true }, ADMIN);
    upstream.next = { sub: 'ada-1', amr: ['pwd'] };
    const single = await browserWithRequest({ requireMfa: true });
    expect((await signInUpstream(single.browser)).res.headers.location).toBe('/device/mfa/setup');
  });

  it('MFA: an acr the operator listed satisfies it', async () => {
    await createIdp({ acrValues: ['urn:test:loa:mfa'] });
    upstream.next = { sub: 'ada-1', acr: 'urn:test:loa:mfa' };
    const { browser } = await browserWithRequest({ requireMfa: true });
    const r = await signInUpstream(browser);
    expect(r.res.headers.location).toBe('/device/consent');
  });

  it('a person outside the allowed groups is refused with a page; no person, no link is created', async () => {
    await createIdp({ allowedGroups: ['eng'] });
    upstream.next = { sub: 'bob-1' };
    const users = await userCount();
    const { browser } = await browserWithRequest();
    const { res } = await signInUpstream(browser);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('not in a group allowed');
    expect(await userCount()).toBe(users);
    expect(await server.services.db.selectFrom('identity_links').selectAll().execute()).toEqual([]);
    expect((await failures()).at(-1)).toMatchObject({
      method: 'upstream',
      reason: 'group_not_allowed',
      upstream_subject: 'bob-1',
      groups: ['sales'],
    });
  });

  it('SS-02: a wrong state, a replayed callback and a callback in another browser are refused and audited', async () => {
    await createIdp();
    const { browser } = await browserWithRequest();
    const callback = await upstream.authorize(await start(browser));

    const forged = new URL(callback);
    forged.searchParams.set('state', 'x'.repeat(43));
    expect((await back(browser, forged)).statusCode).toBe(400);

    // Another browser cannot spend it, and does not use it up for the right one.
    const other = (await browserWithRequest()).browser;
    const elsewhere = await back(other, callback);
    expect(elsewhere.statusCode).toBe(400);
    expect(elsewhere.body).toContain('not started in this browser');

    expect((await back(browser, callback)).statusCode).toBe(303);
    const replay = await back(browser, callback);
    expect(replay.statusCode).toBe(400);
    expect((await failures()).map((d) => d.reason)).toEqual([
      'unknown_state',
      'other_browser',
      'unknown_state',
    ]);
  });

  it('a wrong nonce or a wrong PKCE verifier: the sign-in fails with a page, nothing is created', async () => {
    await createIdp();
    const users = await userCount();
    const first = await browserWithRequest();
    const nonce = await signInUpstream(first.browser, (url) =>
      url.searchParams.set('nonce', 'attacker-nonce'),
    );
    expect(nonce.res.statusCode).toBe(400);
    expect(nonce.res.body).toContain('did not pass its checks');

    const second = await browserWithRequest();
    const pkce = await signInUpstream(second.browser, (url) =>
      url.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'),
    );
    expect(pkce.res.statusCode).toBe(400);
    expect(await userCount()).toBe(users);
    expect((await failures()).map((d) => d.reason)).toEqual(['id_token_invalid', 'code_rejected']);
  });

  it('F-05: an upstream that is down or too slow: a page, audited', async () => {
    const slow: Server = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    closers.push(async () => {
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    });
    const slowIssuer = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    await createIdp({ name: 'Slow', issuer: slowIssuer });
    const { browser } = await browserWithRequest();
    const page = await browser.get('/device/login');
    const href = /href="(\/device\/sso\/start\?[^"]+)"/
      .exec(page.body)?.[1]
      ?.replaceAll('&amp;', '&') as string;
    const res = await browser.get(href);
    expect(res.statusCode).toBe(502);
    expect(res.body).toContain('Slow did not answer in time');

    await upstream.close();
    await createIdp({ name: 'Down', issuer: upstream.issuer });
    const down = await browserWithRequest();
    const page2 = await down.browser.get('/device/login');
    const href2 = [...page2.body.matchAll(/href="(\/device\/sso\/start\?[^"]+)"/g)]
      .at(-1)?.[1]
      ?.replaceAll('&amp;', '&') as string;
    expect((await down.browser.get(href2)).statusCode).toBe(502);
    expect((await failures()).map((d) => d.reason)).toEqual(['upstream_unavailable', 'upstream_unavailable']);
    upstream = await TestUpstream.start(CALLBACK); // for afterEach
  });

  it('keys rotated upstream: the sign-in in flight fails with a page; once the last fetch is 10 s old, the new keys are fetched', async () => {
    await createIdp();
    const first = await browserWithRequest();
    expect((await signInUpstream(first.browser)).res.statusCode).toBe(303);

    const second = await browserWithRequest();
    const url = await start(second.browser);
    await upstream.rotateKeys();
    const res = await back(second.browser, await upstream.authorize(url));
    expect(res.statusCode).toBe(502);
    expect(res.body).toContain('a key it does not publish');
    expect((await failures()).at(-1)).toMatchObject({
      reason: 'keys_unknown',
      upstream_issuer: upstream.issuer,
    });
    expect(
      await server.services.db.selectFrom('sessions').select('id').where('idp_id', 'is not', null).execute(),
    ).toHaveLength(1);

    server.clock.advance(11_000);
    const third = await browserWithRequest();
    expect((await signInUpstream(third.browser)).res.headers.location).toBe('/device/consent');
  });

  it('SS-03: a local person with the same username is not taken over: refused until an administrator links them', async () => {
    const idp = await createIdp();
    const local = await createUser(server, { username: 'ada' });
    const { browser } = await browserWithRequest();
    const { res } = await signInUpstream(browser);
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('Ask an administrator to link them');
    expect(await server.services.db.selectFrom('identity_links').selectAll().execute()).toEqual([]);

    await adminIdps.linkIdp(idpDeps(), idp.id, { user: 'ada', subject: 'ada-1' }, ADMIN);
    const next = await browserWithRequest();
    expect((await signInUpstream(next.browser)).res.headers.location).toBe('/device/consent');
    const consent = await next.browser.get('/device/consent');
    await next.browser.post('/device/consent', {
      action: 'approve',
      request: Browser.requestOf(consent) as string,
    });
    expect((await deviceCodeRow(server, next.request.id)).user_id).toBe(local.id);
  });

  it('passwords can be turned off: the sign-in page offers only the provider, and a password POST is refused', async () => {
    await createIdp({ localPasswords: false });
    await createUser(server, { username: 'carol' });
    const { browser } = await browserWithRequest();
    const page = await browser.get('/device/login');
    expect(page.body).toContain('Sign in with Acme SSO');
    expect(page.body).not.toContain('name="password"');
    const res = await browser.post('/device/login', { username: 'carol', password: 'whatever-password' });
    expect(res.statusCode).toBe(403);
  });

  it('bad input: missing or oversized state, a start without a session, a forged CSRF token, an unknown provider', async () => {
    await createIdp();
    const { browser } = await browserWithRequest();
    expect((await browser.get('/device/sso/callback?code=x')).statusCode).toBe(400);
    expect((await browser.get(`/device/sso/callback?code=x&state=${'a'.repeat(129)}`)).statusCode).toBe(400);
    const page = await browser.get('/device/login');
    const href = /href="(\/device\/sso\/start\?[^"]+)"/
      .exec(page.body)?.[1]
      ?.replaceAll('&amp;', '&') as string;
    const stranger = new Browser(server);
    expect((await stranger.get(href)).statusCode).toBe(403);
    expect((await browser.get(href.replace(/csrf=[^&]+/, 'csrf=forged'))).statusCode).toBe(403);
    expect((await browser.get(href.replace(/idp=[^&]+/, 'idp=idp_nope'))).statusCode).toBe(404);
    expect((await browser.get(`${href}&idp=${'x'.repeat(100)}`)).statusCode).toBeGreaterThanOrEqual(400);
    expect((await failures()).map((d) => d.reason)).toEqual(['missing_state', 'missing_state']);
    expect(await server.services.db.selectFrom('upstream_logins').selectAll().execute()).toEqual([]);
  });

  it('a sign-in that took longer than ten minutes upstream is refused as expired', async () => {
    await createIdp();
    const { browser } = await browserWithRequest();
    const url = await start(browser);
    server.clock.advance(10 * 60_000 + 1);
    const res = await back(browser, await upstream.authorize(url));
    expect(res.statusCode).toBe(400);
    expect((await failures()).at(-1)).toMatchObject({ reason: 'expired' });
  });

  it('two first sign-ins of one upstream identity at once: one person, one link, both signed in as it', async () => {
    await createIdp();
    const a = await browserWithRequest();
    const b = await browserWithRequest();
    const callbackA = await upstream.authorize(await start(a.browser));
    const callbackB = await upstream.authorize(await start(b.browser));
    const users = await userCount();
    const [resA, resB] = await Promise.all([back(a.browser, callbackA), back(b.browser, callbackB)]);
    expect([resA.statusCode, resB.statusCode]).toEqual([303, 303]);
    expect(await userCount()).toBe(users + 1);
    const links = await server.services.db.selectFrom('identity_links').selectAll().execute();
    expect(links).toHaveLength(1);
    const signedIn = await server.services.db
      .selectFrom('sessions')
      .select('user_id')
      .where('idp_id', 'is not', null)
      .execute();
    expect(signedIn.map((r) => r.user_id)).toEqual([links[0]?.user_id, links[0]?.user_id]);
  });

  it('starts are bounded per address', async () => {
    await server.close();
    server = await createPagesServer(dialect, { config: { authFailuresPerAddressPerMinute: 5 } });
    await createIdp();
    const { browser } = await browserWithRequest();
    const page = await browser.get('/device/login');
    const href = /href="(\/device\/sso\/start\?[^"]+)"/
      .exec(page.body)?.[1]
      ?.replaceAll('&amp;', '&') as string;
    const statuses: number[] = [];
    for (let i = 0; i <= server.config.authFailuresPerAddressPerMinute; i++) {
      statuses.push((await browser.get(href)).statusCode);
    }
    expect(statuses.slice(0, -1).every((s) => s === 303)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
  });

  it('the person declines at the provider, or is disabled here: a page each, audited', async () => {
    await createIdp();
    const { browser } = await browserWithRequest();
    const toProvider = new URL(await start(browser));
    const declined = new URL(CALLBACK);
    declined.searchParams.set('error', 'access_denied');
    declined.searchParams.set('iss', upstream.issuer); // RFC 9207, which the provider announces
    declined.searchParams.set('state', toProvider.searchParams.get('state') as string);
    const res = await back(browser, declined);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('did not sign you in');

    const first = await browserWithRequest();
    expect((await signInUpstream(first.browser)).res.statusCode).toBe(303);
    const link = await server.services.db.selectFrom('identity_links').selectAll().executeTakeFirstOrThrow();
    await server.services.db
      .updateTable('users')
      .set({ disabled_at: server.clock.now })
      .where('id', '=', link.user_id)
      .execute();
    const again = await browserWithRequest();
    const disabled = await signInUpstream(again.browser);
    expect(disabled.res.statusCode).toBe(403);
    expect(disabled.res.body).toContain('disabled');
    expect((await failures()).map((d) => d.reason)).toEqual(['upstream_refused', 'disabled_or_locked']);
  });

  it('claims the ID token lacks are read from userinfo (the groups check included)', async () => {
    upstream.idTokenClaims = false;
    await upstream.rotateKeys(); // a provider configured so
    await createIdp({ allowedGroups: ['eng'] });
    const { browser } = await browserWithRequest();
    const { res } = await signInUpstream(browser);
    expect(res.headers.location).toBe('/device/consent');
    expect((await browser.get('/device/consent')).body).toContain('<strong>ada</strong>');
    upstream.next = { sub: 'bob-1' };
    const other = await browserWithRequest();
    expect((await signInUpstream(other.browser)).res.statusCode).toBe(403);
  });
});
