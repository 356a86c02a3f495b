/**
 * Passkeys in a real browser: Chromium with a virtual authenticator (the DevTools protocol's WebAuthn
 * domain: CTAP2, internal transport, user verification). A person enrols a passkey on the pages and
 * approves a device request of a client that requires a phishing-resistant factor with it; TOTP alone is
 * not enough there; a cloned authenticator (the same key with a counter that went back) is refused and
 * the passkey disabled. And what a cautious person looks for on the pages: the organisation's name and
 * logo, scopes in words, the request time in their own time zone, how long the terminal stays signed
 * in, the note about the device line, the other-network warning, and "Not ada? Sign out".
 */
import { join } from 'node:path';
import { adminClients, createLogger, type RunningServer, startServer } from '@clavis/server';
import { decodeJwt } from 'jose';
import { Secret, TOTP } from 'otpauth';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { chromiumAvailable, launchChromium } from '../../../../test/support/browser.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { freePort } from '../../../../test/support/free_port.js';
import { createUser, PASSWORD } from '../../../../test/support/users.js';

/** A 1×1 PNG: the organisation's logo. */
const LOGO = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** A credential as the DevTools protocol's WebAuthn domain exports and imports it. */
interface WebAuthnCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
}

interface DeviceRequest {
  device_code: string;
  user_code: string;
  verification_uri_complete: string;
}

describe.runIf(chromiumAvailable() || process.env.CI === 'true').each(dialects)(
  'passkeys in a real browser (%s)',
  (dialect) => {
    let browser: Browser;
    let database: TestDatabase;
    let running: RunningServer;
    /** `localhost`, not 127.0.0.1: a WebAuthn RP ID must be a domain. */
    let issuer: string;
    let strictClient: string;
    let totp: TOTP;
    let lastStep = 0;
    /** ada's passkey as the first authenticator held it after the approval. */
    let enrolled: WebAuthnCredential | undefined;

    beforeAll(async () => {
      browser = await launchChromium();
      database = await createTestDatabase(dialect);
      const port = await freePort();
      issuer = `http://localhost:${port}`;
      running = await startServer({
        dbUrl: database.url,
        port,
        host: '127.0.0.1',
        issuer,
        kekFile: join(database.dir, 'clavis.kek'),
        adminPassword: 'passkeys-admin-password',
        logger: createLogger('silent'),
        config: {
          devicePollIntervalSeconds: 1,
          // The test's requests say where they come from (the device request from another network).
          trustedProxies: ['127.0.0.1', '::1'],
          organisationName: 'Acme Production',
          logo: { contentType: 'image/png', bytes: LOGO },
          scopeDescriptions: { 'deploy:prod': 'Deploy to production' },
        },
      });
      const secret = new Secret({ size: 20 });
      totp = new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 });
      await createUser(
        { services: running.services, clock: { now: Date.now() } },
        { id: 'usr_ada', username: 'ada', password: PASSWORD, totp: secret.base32 },
      );
      const { client } = await adminClients.createClient(
        {
          db: running.services.db,
          audit: running.services.audit,
          hasher: running.services.hasher,
          clock: running.config.clock,
          maxAccessTokenTtlSeconds: running.config.maxAccessTokenTtlSeconds,
          defaultAccessTokenTtlSeconds: running.config.defaultAccessTokenTtlSeconds,
        },
        {
          name: 'Deploy CLI',
          kind: 'public',
          grants: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
          scopes: ['openid', 'deploy:prod'],
          requireMfa: 'phishing-resistant',
          refreshAbsoluteTtlSeconds: 8 * 3600,
        },
        { type: 'admin', id: 'passkeys-test' },
      );
      strictClient = client.id;
    });

    afterAll(async () => {
      await browser?.close();
      await running?.close();
      await database?.drop();
    });

    async function deviceRequest(clientId: string, scope: string, ip?: string): Promise<DeviceRequest> {
      const response = await fetch(`${issuer}/oauth/device_authorization`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'user-agent': 'deploy-cli/1.0',
          ...(ip ? { 'x-forwarded-for': ip } : {}),
        },
        body: new URLSearchParams({ client_id: clientId, scope }),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as DeviceRequest;
    }

    async function redeem(request: DeviceRequest, clientId: string): Promise<Record<string, unknown>> {
      const response = await fetch(`${issuer}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          device_code: request.device_code,
          client_id: clientId,
        }),
      });
      return (await response.json()) as Record<string, unknown>;
    }

    /** A context whose page has a virtual authenticator (CTAP2, built in, user verification). */
    async function withAuthenticator(): Promise<{
      context: BrowserContext;
      page: Page;
      cdp: CDPSession;
      authenticatorId: string;
    }> {
      const context = await browser.newContext({ timezoneId: 'Pacific/Auckland', locale: 'en-NZ' });
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport: 'internal',
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
          automaticPresenceSimulation: true,
        },
      });
      return { context, page, cdp, authenticatorId };
    }

    async function signIn(page: Page, request: DeviceRequest): Promise<void> {
      await page.goto(request.verification_uri_complete);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Username').fill('ada');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
    }

    async function enterTotp(page: Page): Promise<void> {
      const step = Math.max(Math.floor(Date.now() / 30_000) - 1, lastStep + 1);
      lastStep = step;
      await page.getByLabel('Authentication code').fill(totp.generate({ timestamp: step * 30_000 + 1 }));
      await page.getByRole('button', { name: 'Verify' }).click();
    }

    it('enrol a passkey, approve a phishing-resistant client with it; the token says hwk; the pages show what a cautious person looks for', async () => {
      const { context, page, cdp, authenticatorId } = await withAuthenticator();
      const request = await deviceRequest(strictClient, 'openid deploy:prod', '198.51.100.7');
      await signIn(page, request);

      // The organisation's name and logo, from this server.
      await expect.poll(() => page.locator('header.brand').textContent()).toBe('Acme Production');
      const logo = await page.locator('header.brand img').getAttribute('src');
      expect(logo).toMatch(/^\/device\/assets\/logo-[0-9a-f]{16}\.png$/);
      const logoResponse = await page.request.get(`${issuer}${logo}`);
      expect(logoResponse.headers()['cache-control']).toBe('public, max-age=31536000, immutable');

      // ada has TOTP only; the client wants a passkey: the code alone does not reach consent.
      await expect
        .poll(() => page.locator('.warning').first().textContent())
        .toContain('requires a passkey or security key');
      await enterTotp(page);
      await expect.poll(() => page.url()).toBe(`${issuer}/device/passkeys`);
      expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
      await page.goto(`${issuer}/device/consent`);
      expect(page.url()).toBe(`${issuer}/device/passkeys`);

      // Enrol: the served script runs the ceremony under the pages' CSP.
      await page.getByLabel('Name').fill('Laptop');
      await page.getByRole('button', { name: 'Add a passkey or security key' }).click();
      await expect.poll(() => page.locator('table.passkeys td').first().textContent()).toBe('Laptop');
      // Renamed from its row: a plain form, back on the list.
      await page.getByLabel('New name for Laptop').fill('Work laptop');
      await page.getByRole('button', { name: 'Rename' }).click();
      await expect.poll(() => page.locator('table.passkeys td').first().textContent()).toBe('Work laptop');
      await page.getByRole('link', { name: 'Continue' }).click();

      // Now the passkey itself, on the second-factor page.
      await page.getByRole('button', { name: 'Use your passkey or security key' }).click();
      await expect.poll(() => page.getByRole('button', { name: 'Approve' }).count()).toBe(1);

      // Consent: scopes in words, time in ada's own zone without milliseconds, lifetime in words, the
      // device line is a claim, another network, and a way out for the next person.
      const access = await page.locator('dd ul').first().textContent();
      expect(access).toContain('deploy:prod — Deploy to production');
      expect(access).toContain('openid — Confirm who you are');
      const time = page.locator('time');
      const datetime = (await time.getAttribute('datetime')) ?? '';
      const shown = (await time.textContent()) ?? '';
      expect(shown).not.toContain(datetime);
      expect(shown).not.toMatch(/\.\d{3}/);
      expect(shown).toMatch(/NZ[DS]T|GMT\+1[23]/);
      expect(await page.locator('dd', { hasText: 'up to 8 hours' }).count()).toBe(1);
      expect(await page.locator('dd', { hasText: 'deploy-cli/1.0' }).textContent()).toContain(
        'anyone can claim any device',
      );
      expect(await page.getByRole('alert').textContent()).toContain('another network');
      expect(await page.getByRole('link', { name: 'Sign out' }).count()).toBe(1);
      expect(await page.locator('p.signed-in').textContent()).toBe('Not ada? Sign out');

      await page.getByRole('button', { name: 'Approve' }).click();
      await expect.poll(() => page.url()).toContain('/device/done?outcome=approved');
      const tokens = await redeem(request, strictClient);
      expect(decodeJwt(String(tokens.id_token)).amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);

      const enrolments = await auditRecords(running, 'user.mfa_enrolled');
      expect(enrolments.at(-1)).toMatchObject({ outcome: 'success', detail: { method: 'webauthn' } });
      // The key as the authenticator holds it, for the clone below.
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);
      enrolled = credentials[0];
      await context.close();
    });

    it('without JavaScript a TOTP code still works; the same browser after an approval starts with a sign-in, not at consent', async () => {
      const context = await browser.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      const first = await deviceRequest('clavis-cli', 'openid');
      await signIn(page, first);
      // ada has a passkey now: without a script its button stays hidden and the page says why.
      expect(await page.getByRole('button', { name: 'Use your passkey or security key' }).count()).toBe(0);
      expect(await page.locator('noscript').count()).toBe(1);
      await enterTotp(page);
      await page.getByRole('button', { name: 'Approve' }).click();
      await expect.poll(() => page.url()).toContain('outcome=approved');

      const second = await deviceRequest('clavis-cli', 'openid');
      await page.goto(second.verification_uri_complete);
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect.poll(() => page.getByLabel('Username').count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
      await context.close();
    });

    it('"Not ada? Sign out" ends the session and hands the same code to the next person', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const request = await deviceRequest('clavis-cli', 'openid');
      await signIn(page, request);
      await enterTotp(page);
      await page.getByRole('link', { name: 'Sign out' }).click();
      await page.getByRole('button', { name: 'Sign out' }).click();
      // The code, for the next person to confirm; nothing signed in any more.
      await expect.poll(() => page.getByLabel('Code').inputValue()).toBe(request.user_code);
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect.poll(() => page.getByLabel('Username').count()).toBe(1);
      const out = await auditRecords(running, 'user.sign_out');
      expect(out.at(-1)).toMatchObject({ actor_id: 'usr_ada' });
      await context.close();
    });

    it('a cloned authenticator (the same key, its counter gone back) is refused and the passkey disabled (MF-03)', async () => {
      expect(enrolled).toBeDefined();
      const key = enrolled as WebAuthnCredential;
      // The genuine authenticator, where the counter stands: accepted, and the counter moves on.
      const genuine = await withAuthenticator();
      await genuine.cdp.send('WebAuthn.addCredential', {
        authenticatorId: genuine.authenticatorId,
        credential: key,
      });
      const first = await deviceRequest(strictClient, 'openid');
      await signIn(genuine.page, first);
      await genuine.page.getByRole('button', { name: 'Use your passkey or security key' }).click();
      await expect.poll(() => genuine.page.getByRole('button', { name: 'Approve' }).count()).toBe(1);
      await genuine.context.close();
      const before = await running.services.db
        .selectFrom('webauthn_credentials')
        .selectAll()
        .executeTakeFirstOrThrow();
      expect(Number(before.counter)).toBeGreaterThan(key.signCount);

      // The copy: the same private key with a counter from before.
      const clone = await withAuthenticator();
      await clone.cdp.send('WebAuthn.addCredential', {
        authenticatorId: clone.authenticatorId,
        credential: { ...key, signCount: 0 },
      });
      const second = await deviceRequest(strictClient, 'openid');
      await signIn(clone.page, second);
      await clone.page.getByRole('button', { name: 'Use your passkey or security key' }).click();
      await expect
        .poll(() => clone.page.locator('p.error').first().textContent())
        .toContain('looks copied to another device');
      expect(await clone.page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
      const after = await running.services.db
        .selectFrom('webauthn_credentials')
        .selectAll()
        .executeTakeFirstOrThrow();
      expect(after).toMatchObject({ disabled_reason: 'counter_regression' });
      expect(after.disabled_at).not.toBeNull();
      const [clones] = await auditRecords(running, 'user.passkey_clone');
      expect(clones).toMatchObject({ outcome: 'failure', actor_id: 'usr_ada' });
      // The genuine one is disabled too (it is the same credential): ada falls back to TOTP.
      expect(await clone.page.getByLabel('Authentication code').count()).toBe(1);
      expect(await clone.page.getByRole('button', { name: 'Use your passkey or security key' }).count()).toBe(
        0,
      );
      await clone.context.close();
    });
  },
);
