/**
 * A person's login with the device flow, approved in a real browser (password and TOTP), against a real
 * server: the stored login (file fallback, 0600 in a 0700 directory, announced once), whoami, reuse from
 * another client instance, refresh ahead of expiry, the CI guard, CLAVIS_REQUIRE_KEYCHAIN, logout.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ClavisError,
  createClient,
  type DeviceCode,
  detectContext,
  LoginStore,
  lastServer,
} from '@clavis/sdk';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../../test/support/browser.js';
import { Person } from '../../../test/support/device_approval.js';
import { startTestServer, type TestServer } from '../../../test/support/listening_server.js';
import { headless, type Scratch, scratch } from './support/env.js';

describe.runIf(chromiumAvailable() || process.env.CI === 'true')(
  'device flow login in a real browser',
  { timeout: 90_000 },
  () => {
    let browser: Browser;
    let server: TestServer;
    let person: Person;
    let people = 0;
    const scratches: Scratch[] = [];

    beforeAll(async () => {
      browser = await launchChromium();
      server = await startTestServer();
    });

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      for (const s of scratches) await s.cleanup();
    });

    /** A fresh scratch directory and a fresh person (each TOTP step is accepted once per person). */
    async function fresh(): Promise<Scratch> {
      const s = await scratch();
      scratches.push(s);
      const username = `person${++people}`;
      person = new Person(username, (await server.createUser(username)).totpSecret);
      return s;
    }

    /**
     * Login options that approve (or deny) in the browser, recording what was shown. A failure in the
     * browser cancels the login at once, with the browser's error as the cause.
     */
    function approving(shown: DeviceCode[], decision: 'Approve' | 'Deny' = 'Approve') {
      const controller = new AbortController();
      return {
        signal: controller.signal,
        onCode: (code: DeviceCode) => {
          shown.push(code);
          person
            .approve(browser, code.verificationUriComplete, decision)
            .catch((err: unknown) => controller.abort(err));
        },
      };
    }

    it('logs in, stores the login in an announced 0600 file, and answers whoami', async () => {
      const s = await fresh();
      const warnings: string[] = [];
      const client = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env: s.env,
        context: headless,
        keychain: null,
        warn: (line) => warnings.push(line),
      });
      const shown: DeviceCode[] = [];
      const token = await client.login({ ...approving(shown) });
      expect(shown[0]?.userCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
      expect(shown[0]?.verificationUri).toBe(`${server.issuer}/device`);
      expect(token).toMatchObject({ source: 'login', store: 'file', principal: { clientId: 'clavis-cli' } });
      expect(token.principal.sub).toMatch(/^usr_/);
      expect(token.expiresAt).toBeGreaterThan(Date.now());

      const configDir = join(s.env.XDG_CONFIG_HOME as string, 'clavis');
      expect((await stat(configDir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(configDir, 'credentials.json'))).mode & 0o777).toBe(0o600);
      expect((await stat(join(configDir, 'config.json'))).mode & 0o777).toBe(0o600);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('No OS keychain');
      expect(warnings[0]).not.toContain(token.accessToken);
      expect(await lastServer(s.env)).toBe(server.issuer);

      // A second login on the same machine: still the file, announced no more.
      await client.login({ ...approving([]) });
      expect(warnings).toHaveLength(1);

      // Another process (a new client) finds the login and hands it out.
      const again = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env: s.env,
        context: headless,
      });
      const who = await again.whoami();
      expect(who).toMatchObject({ source: 'login', store: 'file', principal: { sub: token.principal.sub } });
      expect(who).not.toHaveProperty('accessToken');
    });

    it('refreshes a login near expiry, and logout revokes the refresh token', async () => {
      const s = await fresh();
      const client = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env: s.env,
        context: headless,
        keychain: null,
        warn: () => {},
      });
      const first = await client.login({ ...approving([]) });
      const store = new LoginStore({ env: s.env, keychain: null });
      const found = await store.load(server.issuer, 'clavis-cli');
      const firstRefresh = found?.login.refreshToken;
      expect(firstRefresh).toMatch(/^clvr_/);

      // Thirty seconds after: the token is near its end (less than a tenth of its life left).
      const later = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env: s.env,
        context: headless,
        now: () => (first.expiresAt ?? 0) - 30_000,
      });
      const refreshed = await later.getToken();
      expect(refreshed.accessToken).not.toBe(first.accessToken);
      expect(refreshed.source).toBe('login');
      const rotated = (await store.load(server.issuer, 'clavis-cli'))?.login.refreshToken;
      expect(rotated).toMatch(/^clvr_/);
      expect(rotated).not.toBe(firstRefresh);

      expect(await later.logout()).toEqual({ revoked: true, removed: true });
      expect(await store.load(server.issuer, 'clavis-cli')).toBeUndefined();
      const revokedUse = await fetch(`${server.issuer}/oauth/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: rotated ?? '',
          client_id: 'clavis-cli',
        }),
      });
      expect(revokedUse.status).toBe(400);
      expect(await revokedUse.json()).toMatchObject({ error: 'invalid_grant' });
      await expect(later.getToken()).rejects.toMatchObject({ code: 'no_credentials' });
    });

    it("refuses a person's stored login in CI unless CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI=1", async () => {
      const s = await fresh();
      const login = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env: s.env,
        context: headless,
        keychain: null,
        warn: () => {},
      });
      await login.login({ ...approving([]) });

      const ciEnv = { ...s.env, CI: 'true', JENKINS_URL: 'https://jenkins.example.com/' };
      const inCi = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env: ciEnv,
        context: detectContext(ciEnv, { stdinIsTTY: false, stderrIsTTY: false }),
        keychain: null,
      });
      const refused = await inCi.getToken().catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ClavisError);
      expect(refused).toMatchObject({ code: 'personal_token_in_ci' });
      expect((refused as Error).message).toContain('jenkins');
      expect((refused as Error).message).toContain('CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI=1');

      const allowedEnv = { ...ciEnv, CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI: '1' };
      const allowed = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env: allowedEnv,
        context: detectContext(allowedEnv, { stdinIsTTY: false, stderrIsTTY: false }),
        keychain: null,
      });
      expect(await allowed.getToken()).toMatchObject({ source: 'login', store: 'file' });

      // A refresh from CI says so in its User-Agent, which the server records for the posture report.
      const stored = await new LoginStore({ env: allowedEnv, keychain: null, warn: () => {} }).load(
        server.issuer,
        'clavis-cli',
      );
      const nearExpiry = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env: allowedEnv,
        context: detectContext(allowedEnv, { stdinIsTTY: false, stderrIsTTY: false }),
        keychain: null,
        now: () => (stored?.login.expiresAt ?? 0) - 30_000,
      });
      await nearExpiry.getToken();
      const [refresh] = await server.audit('token.refresh');
      expect(refresh).toMatchObject({ user_agent: 'clavis-sdk/0.1.0 ci/jenkins' });
    });

    it('CLAVIS_REQUIRE_KEYCHAIN=1 refuses the file fallback, storing nothing', async () => {
      const s = await fresh();
      const env: Record<string, string | undefined> = { ...s.env, CLAVIS_REQUIRE_KEYCHAIN: '1' };
      const warnings: string[] = [];
      const client = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env,
        context: headless,
        keychain: null,
        warn: (line) => warnings.push(line),
      });
      await expect(client.login({ ...approving([]) })).rejects.toMatchObject({
        code: 'keychain_unavailable',
      });
      expect(warnings).toEqual([]);
      await expect(stat(join(env.XDG_CONFIG_HOME as string, 'clavis', 'credentials.json'))).rejects.toThrow();
    });

    it('a denial is login_denied', async () => {
      const s = await fresh();
      const client = createClient({
        issuer: server.issuer,
        clientId: 'clavis-cli',
        env: s.env,
        context: headless,
        keychain: null,
        warn: () => {},
      });
      await expect(client.login({ ...approving([], 'Deny') })).rejects.toMatchObject({
        code: 'login_denied',
      });
    });
  },
);
