/**
 * The device flow end to end, as people and CLIs live it: openid-client (an independent client) starts
 * the flow and polls like a CLI would, while a real browser enters the code, signs in with a password
 * and a TOTP code, and approves. Then refresh, rotation and reuse detection; the deny and expiry paths.
 */
import { join } from 'node:path';
import { createLogger, type RunningServer, startServer } from '@clavis/server';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../../../test/support/browser.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { freePort } from '../../../../test/support/free_port.js';
import { createUser, PASSWORD } from '../../../../test/support/users.js';

describe.runIf(chromiumAvailable() || process.env.CI === 'true').each(dialects)(
  'device flow in a real browser (%s)',
  (dialect) => {
    let browser: Browser;
    let database: TestDatabase;
    let running: RunningServer;
    let issuer: string;
    let config: client.Configuration;
    let totp: TOTP;
    // The server's clock is the real one plus an offset the expiry test moves forward.
    let offset = 0;
    // Each TOTP step is accepted once (MF-01): every sign-in uses a step not used before, within ±1.
    let lastStep = 0;

    beforeAll(async () => {
      browser = await launchChromium();
      database = await createTestDatabase(dialect);
      const port = await freePort();
      issuer = `http://127.0.0.1:${port}`;
      running = await startServer({
        dbUrl: database.url,
        port,
        host: '127.0.0.1',
        issuer,
        kekFile: join(database.dir, 'clavis.kek'),
        adminPassword: 'e2e-admin-password',
        logger: createLogger('silent'),
        config: { devicePollIntervalSeconds: 1, clock: () => Date.now() + offset },
      });
      const secret = new Secret({ size: 20 });
      totp = new TOTP({ issuer: 'Clavis', label: 'grace', secret, algorithm: 'SHA1', digits: 6, period: 30 });
      await createUser(
        { services: running.services, clock: { now: Date.now() } },
        { id: 'usr_grace', username: 'grace', password: PASSWORD, totp: secret.base32 },
      );
      config = await client.discovery(new URL(issuer), 'clavis-cli', undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
    });

    afterAll(async () => {
      await browser?.close();
      await running?.close();
      await database?.drop();
    });

    /** Code entry → sign-in → second factor, leaving the page on consent. */
    async function signInAndReachConsent(
      page: Page,
      verificationUriComplete: string,
      userCode: string,
    ): Promise<void> {
      await page.goto(verificationUriComplete);
      // The code from the link is shown for confirmation, not approved by itself.
      await expect.poll(() => page.getByLabel('Code').inputValue()).toBe(userCode);
      await page.getByRole('button', { name: 'Continue' }).click();
      if (await page.getByLabel('Username').count()) {
        await page.getByLabel('Username').fill('grace');
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: /sign in|continue/i }).click();
      }
      if (await page.getByLabel('Authentication code').count()) {
        const current = Math.floor((Date.now() + offset) / 30_000);
        const step = Math.max(current - 1, lastStep + 1);
        lastStep = step;
        await page.getByLabel('Authentication code').fill(totp.generate({ timestamp: step * 30_000 + 1 }));
        await page.getByRole('button', { name: /verify|continue/i }).click();
      }
      await expect.poll(() => page.getByRole('button', { name: 'Approve' }).count()).toBe(1);
    }

    it('code entry, sign-in, TOTP and approval while the CLI polls; then refresh, rotation and reuse detection', async () => {
      const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
      expect(authorization.verification_uri).toBe(`${issuer}/device`);
      const polling = client.pollDeviceAuthorizationGrant(config, authorization);

      const page = await browser.newPage();
      await signInAndReachConsent(
        page,
        authorization.verification_uri_complete ?? '',
        authorization.user_code,
      );
      const consent = await page.content();
      expect(consent).toContain('Clavis CLI');
      expect(consent).toContain('openid');
      expect(consent).toContain('127.0.0.1');
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForLoadState();

      const tokens = await polling;
      expect(tokens.refresh_token).toMatch(/^clvr_/);
      const { payload } = await jwtVerify(
        tokens.access_token,
        createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`)),
        {
          issuer,
          typ: 'at+jwt',
          currentDate: new Date(Date.now() + offset),
        },
      );
      expect(payload).toMatchObject({ sub: 'usr_grace', client_id: 'clavis-cli', scope: 'openid' });
      // The ID token says how grace signed in on the pages: a password and a TOTP code.
      expect(tokens.claims()).toMatchObject({
        sub: 'usr_grace',
        aud: 'clavis-cli',
        amr: ['pwd', 'otp', 'mfa'],
      });

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
      expect(refreshed.refresh_token).toBeDefined();
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

      // The spent token again: refused, and the whole family with it.
      await expect(client.refreshTokenGrant(config, tokens.refresh_token ?? '')).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      await expect(client.refreshTokenGrant(config, refreshed.refresh_token ?? '')).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      await page.close();
    });

    it('a person without a second factor enrols a TOTP on the page, gets recovery codes, and approves', async () => {
      await createUser(
        { services: running.services, clock: { now: Date.now() } },
        { id: 'usr_lin', username: 'lin', password: PASSWORD },
      );
      const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
      const polling = client.pollDeviceAuthorizationGrant(config, authorization);
      const page = await browser.newPage();
      await page.goto(authorization.verification_uri ?? '');
      await page.getByLabel('Code').fill(authorization.user_code.toLowerCase());
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Username').fill('lin');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // clavis-cli requires a second factor: the page offers enrolment, with the key as text.
      const key = (await page.locator('dd code').first().textContent())?.trim() ?? '';
      // ...and as a QR code, drawn on the server (inline SVG: no script, no image request).
      await expect.poll(() => page.locator('figure.qr svg path').count()).toBe(1);
      expect(await page.locator('figure.qr svg').boundingBox()).toMatchObject({ width: 200, height: 200 });
      expect(key).toMatch(/^[A-Z2-7]+=*$/);
      const enrolled = new TOTP({ secret: Secret.fromBase32(key), algorithm: 'SHA1', digits: 6, period: 30 });
      await page
        .getByLabel('Authentication code')
        .fill(enrolled.generate({ timestamp: Date.now() + offset }));
      await page.getByRole('button', { name: 'Confirm' }).click();
      expect(await page.locator('ul.codes li').count()).toBe(10);
      // Not without saying the codes were saved: the browser keeps the page.
      await page.getByRole('button', { name: 'Continue' }).click();
      expect(await page.locator('ul.codes li').count()).toBe(10);
      await page.getByLabel('I have saved these codes').check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: 'Approve' }).click();
      const tokens = await polling;
      expect(tokens.access_token).toBeDefined();
      await page.close();
    });

    it('deny: the CLI gets access_denied', async () => {
      const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
      const polling = client.pollDeviceAuthorizationGrant(config, authorization);
      // It may settle before the browser is done; the assertion below reads the outcome.
      polling.catch(() => {});
      const page = await browser.newPage();
      await signInAndReachConsent(
        page,
        authorization.verification_uri_complete ?? '',
        authorization.user_code,
      );
      await page.getByRole('button', { name: 'Deny' }).click();
      await page.waitForLoadState();
      await expect(polling).rejects.toMatchObject({ error: 'access_denied' });
      await page.close();
    });

    it('expiry: a code nobody approved ends in expired_token, and the page refuses it', async () => {
      const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
      offset += 11 * 60_000;
      try {
        await expect(client.pollDeviceAuthorizationGrant(config, authorization)).rejects.toMatchObject({
          error: 'expired_token',
        });
        const page = await browser.newPage();
        await page.goto(authorization.verification_uri_complete ?? '');
        await page.getByRole('button', { name: 'Continue' }).click();
        await page.waitForLoadState();
        expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
        await page.close();
      } finally {
        offset -= 11 * 60_000;
      }
    });
  },
);
