/**
 * What a cautious person reads on the pages, in process: the brand line, the served script and logo
 * (immutable, under the pages' CSP, no inline script), scope words, times and lifetimes in words, the
 * network comparison, and /device/logout.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createUser, PASSWORD } from '../../../../test/support/users.js';
import { PAGE_SCRIPT_PATH } from '../../src/pages/page_script.js';
import {
  describeScope,
  durationInWords,
  fromAnotherNetwork,
  logoContentType,
  networkOf,
  utcText,
} from '../../src/pages/trust.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  deviceCodeRow,
  type PagesServer,
} from './support.js';

const SVG = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>',
);

describe('the words the pages use', () => {
  it('lifetimes', () => {
    expect(durationInWords(24 * 3600)).toBe('24 hours');
    expect(durationInWords(8 * 3600)).toBe('8 hours');
    expect(durationInWords(30 * 86_400)).toBe('30 days');
    expect(durationInWords(900)).toBe('15 minutes');
    expect(durationInWords(3600)).toBe('1 hour');
    expect(durationInWords(5400)).toBe('90 minutes');
    expect(durationInWords(45)).toBe('45 seconds');
    expect(durationInWords(3 * 86_400 + 7)).toBe('about 3 days');
  });

  it('times: UTC to the minute, no milliseconds', () => {
    expect(utcText(Date.UTC(2026, 11, 2, 6, 11, 49, 516))).toBe('2026-12-02 06:11 UTC');
  });

  it('scopes: the operator first, then the built-in words, else none', () => {
    expect(describeScope('openid', undefined)).toBe('Confirm who you are (your user id)');
    expect(describeScope('openid', { openid: 'Sign in' })).toBe('Sign in');
    expect(describeScope('deploy', { deploy: 'Deploy' })).toBe('Deploy');
    expect(describeScope('unknown', {})).toBeUndefined();
    expect(describeScope('constructor', {})).toBeUndefined();
    expect(describeScope('__proto__', undefined)).toBeUndefined();
  });

  it('networks: an IPv4 /24, an IPv6 /64, a mapped IPv4 as IPv4; unknown never warns', () => {
    expect(networkOf('198.51.100.7')).toBe('198.51.100.0/24');
    expect(networkOf('::ffff:198.51.100.9')).toBe('198.51.100.0/24');
    expect(networkOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(networkOf('not an ip')).toBeUndefined();
    expect(fromAnotherNetwork('198.51.100.7', '198.51.100.200')).toBe(false);
    expect(fromAnotherNetwork('198.51.100.7', '::ffff:198.51.100.1')).toBe(false);
    expect(fromAnotherNetwork('198.51.100.7', '198.51.101.7')).toBe(true);
    expect(fromAnotherNetwork('2001:db8:1:2::1', '2001:db8:1:2::ff')).toBe(false);
    expect(fromAnotherNetwork('2001:db8:1:2::1', '2001:db8:1:3::1')).toBe(true);
    expect(fromAnotherNetwork(null, '198.51.100.7')).toBe(false);
  });

  it('logo types by extension', () => {
    expect(logoContentType('logo.PNG')).toBe('image/png');
    expect(logoContentType('a.svg')).toBe('image/svg+xml');
    expect(logoContentType('a.jpeg')).toBe('image/jpeg');
    expect(logoContentType('a.gif')).toBeUndefined();
  });
});

describe.each(dialects)('trust on the pages (%s)', (dialect) => {
  let server: PagesServer;
  beforeEach(async () => {
    server = await createPagesServer(dialect, {
      config: {
        organisationName: 'Acme <Prod>',
        logo: { contentType: 'image/svg+xml', bytes: SVG },
        scopeDescriptions: { write: 'Change your <records>' },
      },
    });
  });
  afterEach(async () => {
    await server.close();
  });

  it('every page names the organisation (escaped) with its logo from this server', async () => {
    const browser = new Browser(server);
    for (const path of ['/device', '/device/login']) {
      const page = await browser.get(path);
      expect(page.body).toMatch(
        /<header class="brand"><img src="\/device\/assets\/logo-[0-9a-f]{16}\.svg" alt="" width="32" height="32"><span>Acme &lt;Prod&gt;<\/span><\/header>/,
      );
      expect(page.body).not.toContain('<!--clavis:brand-->');
      expect(page.body).not.toMatch(/<script(?! src="\/device\/assets\/)/);
    }
    const src = /src="(\/device\/assets\/logo-[^"]+)"/.exec((await browser.get('/device')).body)?.[1] ?? '';
    const logo = await browser.get(src);
    expect(logo.statusCode).toBe(200);
    expect(logo.headers['content-type']).toBe('image/svg+xml');
    expect(logo.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    // Opened by itself, an SVG gets the deny-all CSP: no script of its own would run.
    expect(logo.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
  });

  it('the script: a hashed path, immutable, JavaScript, from the pages’ own origin', async () => {
    expect(PAGE_SCRIPT_PATH).toMatch(/^\/device\/assets\/page-[0-9a-f]{16}\.js$/);
    const script = await new Browser(server).get(PAGE_SCRIPT_PATH);
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(script.body).toContain("querySelectorAll('form[data-webauthn]')");
    expect((await new Browser(server).get('/device/assets/page-0000000000000000.js')).statusCode).toBe(404);
  });

  it('consent: scope words (escaped), UTC time without milliseconds, the lifetime, the device claim, no warning on the same network', async () => {
    const clientId = await createDeviceClient(server);
    await createUser(server, { username: 'ada', password: PASSWORD });
    server.clock.advance(Date.UTC(2026, 11, 2, 6, 11, 49, 516) - server.clock.now);
    const request = await createDeviceRequest(server, clientId, {
      scopes: ['read', 'write'],
      ip: '203.0.113.77',
    });
    const browser = new Browser(server, '203.0.113.10');
    await browser.enterCode(request.shown);
    await browser.signIn('ada');
    const consent = await browser.get('/device/consent');
    expect(consent.body).toContain('<li><code>write</code> — Change your &lt;records&gt;</li>');
    expect(consent.body).toContain('<li><code>read</code></li>');
    expect(consent.body).toContain(
      '<time datetime="2026-12-02T06:11:49.516Z" data-local>2026-12-02 06:11 UTC</time>',
    );
    expect(consent.body).toContain(
      '<dd>up to 24 hours, unless you or an administrator sign it out sooner</dd>',
    );
    expect(consent.body).toContain('As the requester describes itself: anyone can claim any device.');
    expect(consent.body).not.toContain('another network');
    expect(consent.body).toContain(`<script src="${PAGE_SCRIPT_PATH}" defer></script>`);
  });

  it('/device/logout asks, then (with the form’s CSRF token) ends the session, lets the code go, audits; without a session it goes to /device', async () => {
    const clientId = await createDeviceClient(server);
    const ada = await createUser(server, { username: 'ada', password: PASSWORD });
    const request = await createDeviceRequest(server, clientId);
    const browser = new Browser(server);
    await browser.enterCode(request.shown);
    await browser.signIn('ada');
    // The link asks; a GET alone (another site's link) changes nothing.
    const ask = await browser.get('/device/logout');
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('You are signed in as <strong>ada</strong>.');
    expect((await deviceCodeRow(server, request.id)).claimed_by_session).not.toBeNull();
    expect((await browser.post('/device/logout', {}, null)).statusCode).toBe(403);
    const out = await browser.post('/device/logout', {});
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe(`/device?user_code=${request.shown}`);
    expect(out.headers['set-cookie']).toMatch(/Max-Age=0/);
    expect((await deviceCodeRow(server, request.id)).claimed_by_session).toBeNull();
    expect(
      await server.services.db.selectFrom('sessions').select('id').where('user_id', '=', ada.id).execute(),
    ).toEqual([]);
    // The next person claims the same code in this browser.
    expect((await browser.enterCode(request.shown)).headers.location).toBe('/device/login');

    const nobody = await new Browser(server).get('/device/logout');
    expect(nobody.headers.location).toBe('/device');
  });
});
