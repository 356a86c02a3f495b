/**
 * Single sign-on end to end: a CLI (openid-client) starts the device flow; in Chromium the person enters
 * the code, chooses "Sign in with Acme SSO", signs in at a real upstream (oidc-provider on loopback,
 * asserting `amr: ['pwd', 'hwk']`), comes back to the same consent page and approves. The tokens' `sub`
 * is the person the upstream identity is linked to, and a second sign-in reuses the link.
 */
import { join } from 'node:path';
import { adminIdps, createLogger, type RunningServer, startServer } from '@clavis/server';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../../../test/support/browser.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { freePort } from '../../../../test/support/free_port.js';
import { jwtClaims } from '../../../../test/support/jwt.js';
import { TestUpstream } from '../sso/upstream.js';

describe.runIf(chromiumAvailable() || process.env.CI === 'true').each(dialects)(
  'single sign-on in a real browser (%s)',
  (dialect) => {
    let browser: Browser;
    let database: TestDatabase;
    let running: RunningServer;
    let upstream: TestUpstream;
    let issuer: string;
    let config: client.Configuration;

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
        config: { devicePollIntervalSeconds: 1 },
      });
      upstream = await TestUpstream.start(`${issuer}/device/sso/callback`);
      upstream.accounts.set('ada-1', { sub: 'ada-1', preferred_username: 'ada', groups: ['eng'] });
      upstream.next = { sub: 'ada-1', amr: ['pwd', 'hwk'] };
      const services = running.services;
      await adminIdps.createIdp(
        { db: services.db, audit: services.audit, clock: Date.now, idpSealKey: services.idpKeys.seal },
        {
          name: 'Acme SSO',
          issuer: upstream.issuer,
          clientId: upstream.clientId,
          clientSecret: upstream.clientSecret,
          scopes: ['profile', 'email', 'groups'],
          allowedGroups: ['eng'],
          mfaFromAmr: true,
        },
        { type: 'admin', id: 'e2e' },
      );
      config = await client.discovery(new URL(issuer), 'clavis-cli', undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
    });

    afterAll(async () => {
      await browser?.close();
      await running?.close();
      await upstream?.close();
      await database?.drop();
    });

    async function approveThroughUpstream(): Promise<
      client.TokenEndpointResponse & client.TokenEndpointResponseHelpers
    > {
      const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
      const polling = client.pollDeviceAuthorizationGrant(config, authorization);
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        await page.goto(authorization.verification_uri_complete ?? '');
        await page.getByRole('button', { name: 'Continue' }).click();
        await page.getByRole('link', { name: 'Sign in with Acme SSO' }).click();
        await expect
          .poll(() => page.getByRole('button', { name: 'Approve' }).count(), { timeout: 10_000 })
          .toBe(1);
        expect(await page.content()).toContain('<strong>ada</strong>');
        await page.getByRole('button', { name: 'Approve' }).click();
        await page.waitForLoadState();
      } finally {
        await context.close();
      }
      return polling;
    }

    it('approves a device through the upstream; the token is the linked person; a second sign-in reuses the link', async () => {
      const tokens = await approveThroughUpstream();
      const link = await running.services.db
        .selectFrom('identity_links')
        .selectAll()
        .executeTakeFirstOrThrow();
      expect(link).toMatchObject({ issuer: upstream.issuer, subject: 'ada-1' });
      expect(jwtClaims(tokens.access_token)).toMatchObject({ sub: link.user_id, client_id: 'clavis-cli' });
      // The provider's hardware key, trusted for it, is the second factor the ID token reports.
      expect(tokens.claims()).toMatchObject({ sub: link.user_id, amr: ['pwd', 'hwk', 'mfa'] });

      const again = await approveThroughUpstream();
      expect(jwtClaims(again.access_token).sub).toBe(link.user_id);
      expect(await running.services.db.selectFrom('identity_links').selectAll().execute()).toHaveLength(1);
    });
  },
);
