/**
 * `clavis login | whoami | token | logout` as processes (the built binary) without a terminal, against
 * a real server, a person approving in a real Chromium: the code and link on stderr, denial, expiry,
 * Ctrl-C, the remembered server, the credential contexts of `token` and `whoami`, and logout revoking
 * the refresh token at the server.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lines, spawnCli, startCli } from './support/cli.js';
import {
  chromiumAvailable,
  type Home,
  home,
  LINK,
  launchChromium,
  Person,
  startTestServer,
  type TestServer,
  waitFor,
} from './support/people.js';

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

describe.runIf(chromiumAvailable())('clavis login, whoami, token, logout', { timeout: 120_000 }, () => {
  let browser: Browser;
  let server: TestServer;
  let people = 0;
  const homes: Home[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    server = await startTestServer();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    for (const h of homes) h.remove();
  });

  async function person(): Promise<Person> {
    const username = `person${++people}`;
    return new Person(username, (await server.createUser(username)).totpSecret);
  }

  function fresh(extra: Record<string, string> = {}): Home {
    const h = home(extra);
    homes.push(h);
    return h;
  }

  /** `clavis login` without a terminal, approved (or denied) in the browser from the link it printed. */
  async function login(h: Home, who: Person, decision: 'Approve' | 'Deny' = 'Approve', argv: string[] = []) {
    const run = startCli(['login', '--server', server.issuer, ...argv], h.env);
    const [, link] = await waitFor(() => run.out.stderr, LINK);
    await who.approve(browser, link as string, decision);
    const { code } = await run.exited;
    return { code, stdout: run.out.stdout, stderr: run.out.stderr };
  }

  it('logs in without a terminal: code and link on stderr, then whoami and token work', async () => {
    const h = fresh();
    const who = await person();
    const result = await login(h, who);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^! First copy your one-time code: [A-Z]{4}-[A-Z]{4}$/m);
    expect(result.stderr).toContain(
      `Open this link in a browser to approve: ${server.issuer}/device?user_code=`,
    );
    expect(result.stderr).toContain(`Logged in to ${server.issuer} as ${who.username}`);
    expect(result.stderr).not.toContain('\x1b['); // no QR code, no spinner without a terminal

    // The server is remembered: no --server from here on.
    const whoami = await spawnCli(['whoami', '--json'], h.env);
    expect(whoami.code).toBe(0);
    const json = JSON.parse(whoami.stdout);
    expect(json).toMatchObject({ username: who.username, source: 'login', store: 'file' });
    expect(json.sub).toMatch(/^usr_/);
    expect(json.scopes).toContain('openid');
    expect(Date.parse(json.expires_at)).toBeGreaterThan(Date.now());
    expect(Object.keys(json).sort()).toEqual(['expires_at', 'scopes', 'source', 'store', 'sub', 'username']);

    const text = await spawnCli(['whoami'], h.env);
    expect(text.stdout).toMatch(new RegExp(`^person: +${who.username}$`, 'm'));
    expect(text.stdout).toMatch(/^source: +login$/m);

    const token = await spawnCli(['token'], h.env);
    expect(token).toMatchObject({ code: 0, stderr: '' });
    expect(token.stdout.endsWith('\n')).toBe(true);
    expect(lines(token.stdout)).toHaveLength(1);
    expect(token.stdout.trim()).toMatch(JWT);
    // The token is good at the server.
    const userinfo = await fetch(`${server.issuer}/oauth/userinfo`, {
      headers: { authorization: `Bearer ${token.stdout.trim()}` },
    });
    expect(userinfo.status).toBe(200);
  });

  it('keeps several servers side by side; --server picks one', async () => {
    const other = await startTestServer();
    try {
      const h = fresh();
      const who = await person();
      expect((await login(h, who)).code).toBe(0);
      // A second server: no login there; the first one's login is untouched and --server reaches it.
      const there = await spawnCli(['token', '--server', other.issuer], h.env);
      expect(there.code).toBe(4);
      expect(lines(there.stderr)).toHaveLength(1);
      const here = await spawnCli(['token', '--server', `${server.issuer}/`], h.env);
      expect(here.code).toBe(0);
      expect(here.stdout.trim()).toMatch(JWT);
      const env = await spawnCli(['whoami', '--json'], { ...h.env, CLAVIS_SERVER: other.issuer });
      expect(env.code).toBe(4);
    } finally {
      await other.close();
    }
  });

  it('a denial ends the login with exit 4 and one line, storing nothing', async () => {
    const h = fresh();
    const result = await login(h, await person(), 'Deny');
    expect(result.code).toBe(4);
    const after = result.stderr.slice(result.stderr.indexOf('Waiting for approval…'));
    expect(lines(after).slice(1)).toEqual([
      'clavis: the login was denied in the browser: nothing was stored',
    ]);
    const whoami = await spawnCli(['whoami'], { ...h.env, CLAVIS_SERVER: server.issuer });
    expect(whoami.code).toBe(4);
  });

  it('an expired code ends the login with exit 4 and one line', async () => {
    const short = await startTestServer({ deviceCodeTtlSeconds: 2 });
    try {
      const h = fresh();
      const result = await spawnCli(['login', '--server', short.issuer], h.env);
      expect(result.code).toBe(4);
      expect(lines(result.stderr).at(-1)).toBe(
        'clavis: the code expired before it was approved: run `clavis login` again',
      );
    } finally {
      await short.close();
    }
  });

  it('Ctrl-C while waiting cancels: exit 2, one clean line, no stack', async () => {
    const h = fresh();
    const run = startCli(['login', '--server', server.issuer], h.env);
    await waitFor(() => run.out.stderr, /Waiting for approval…/);
    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code).toBe(2);
    expect(lines(run.out.stderr).at(-1)).toBe('clavis: cancelled');
    expect(run.out.stderr).not.toMatch(/\bat \S+:\d+/);
  });

  it('logout revokes the refresh token at the server, then forgets the login; again is a no-op', async () => {
    const h = fresh();
    expect((await login(h, await person())).code).toBe(0);
    const stored = JSON.parse(
      readFileSync(join(h.env.XDG_CONFIG_HOME ?? '', 'clavis', 'credentials.json'), 'utf8'),
    );
    const refreshToken = (Object.values(stored)[0] as { refreshToken: string }).refreshToken;
    expect(refreshToken).toMatch(/^clvr_/);

    const out = await spawnCli(['logout'], h.env);
    expect(out.code).toBe(0);
    expect(out.stderr).toBe(
      `Logged out of ${server.issuer}: the login was revoked at the server and forgotten here.\n`,
    );
    const refused = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: 'clavis-cli',
      }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_grant' });

    const again = await spawnCli(['logout'], h.env);
    expect(again).toMatchObject({ code: 0, stderr: `Not logged in to ${server.issuer}: nothing to do.\n` });
    const token = await spawnCli(['token'], h.env);
    expect(token.code).toBe(4);
  });

  describe('the contexts of token and whoami', () => {
    let loggedIn: Home;
    let who: Person;

    beforeAll(async () => {
      loggedIn = fresh();
      who = await person();
      expect((await login(loggedIn, who)).code).toBe(0);
    });

    it('no credential at all: one line naming the ways, exit 4, at once', async () => {
      const h = fresh({ CLAVIS_SERVER: server.issuer });
      for (const argv of [['token'], ['whoami'], ['whoami', '--json']]) {
        const result = await spawnCli(argv, h.env);
        expect(result.code).toBe(4);
        expect(result.stdout).toBe('');
        expect(lines(result.stderr)).toHaveLength(1);
        expect(result.stderr).toMatch(/clavis login.*CLAVIS_API_KEY/);
      }
    });

    it('no server at all: one line telling how', async () => {
      const result = await spawnCli(['token'], fresh().env);
      expect(result.code).toBe(1);
      expect(lines(result.stderr)).toEqual([
        'clavis: no server: pass --server URL or set CLAVIS_SERVER (after `clavis login --server URL` it is remembered)',
      ]);
    });

    it("a person's stored login in CI is refused, unless CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI=1", async () => {
      const ci = { ...loggedIn.env, CI: 'true', GITHUB_ACTIONS: 'true' };
      const refused = await spawnCli(['token'], ci);
      expect(refused.code).toBe(4);
      expect(refused.stdout).toBe('');
      expect(lines(refused.stderr)).toHaveLength(1);
      expect(refused.stderr).toContain('CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI=1');
      expect((await spawnCli(['whoami'], ci)).code).toBe(4);

      const allowed = await spawnCli(['token'], { ...ci, CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI: '1' });
      expect(allowed.code).toBe(0);
      expect(allowed.stdout.trim()).toMatch(JWT);
    });

    it('token refreshes a login whose access token is about to expire, and stores the new one', async () => {
      const file = join(loggedIn.env.XDG_CONFIG_HOME ?? '', 'clavis', 'credentials.json');
      const stored = JSON.parse(readFileSync(file, 'utf8'));
      const [key] = Object.keys(stored);
      const before = stored[key as string];
      // Obtained ten minutes ago, a second left: inside the renew-ahead margin (the lesser of 60 s and a
      // tenth of the lifetime), however fast the login before this test ran.
      stored[key as string] = { ...before, obtainedAt: Date.now() - 600_000, expiresAt: Date.now() + 1000 };
      writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
      const token = await spawnCli(['token'], loggedIn.env);
      expect(token.code).toBe(0);
      const fresh = token.stdout.trim();
      expect(fresh).toMatch(JWT);
      expect(fresh).not.toBe(before.accessToken);
      const after = JSON.parse(readFileSync(file, 'utf8'))[key as string];
      expect(after.accessToken).toBe(fresh);
      expect(after.refreshToken).not.toBe(before.refreshToken); // rotated
      expect((await spawnCli(['token'], loggedIn.env)).stdout.trim()).toBe(fresh); // now cached
    });

    it('CLAVIS_TOKEN overrides everything, with or without a server', async () => {
      const given = (await spawnCli(['token'], loggedIn.env)).stdout.trim();
      const bare = fresh({ CLAVIS_TOKEN: given });
      expect(await spawnCli(['token'], bare.env)).toMatchObject({ code: 0, stdout: `${given}\n` });
      const whoami = await spawnCli(['whoami', '--json'], bare.env);
      expect(JSON.parse(whoami.stdout)).toMatchObject({ source: 'env', store: 'none' });
      const override = await spawnCli(['token'], { ...loggedIn.env, CLAVIS_TOKEN: 'opaque-given' });
      expect(override.stdout).toBe('opaque-given\n');
    });

    it('an API key is exchanged for a token; whoami names the service', async () => {
      const owner = (await server.createClient({ name: 'nightly export' })).clientId;
      const key = await server.createApiKey(owner, ['invoices:read']);
      const h = fresh({ CLAVIS_SERVER: server.issuer, CLAVIS_API_KEY: key });
      const token = await spawnCli(['token'], h.env);
      expect(token.code).toBe(0);
      expect(token.stdout.trim()).toMatch(JWT);
      expect(token.stdout).not.toContain(key);
      const whoami = JSON.parse((await spawnCli(['whoami', '--json'], h.env)).stdout);
      expect(whoami).toMatchObject({
        client_id: owner,
        source: 'api_key',
        store: 'none',
        scopes: ['invoices:read'],
      });
      // An explicit credential wins over the stored login of the same machine.
      const both = JSON.parse(
        (await spawnCli(['whoami', '--json'], { ...loggedIn.env, CLAVIS_API_KEY: key })).stdout,
      );
      expect(both.source).toBe('api_key');
    });

    it('a private key (client credentials with private_key_jwt) gives the service its token', async () => {
      const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
      const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' }] };
      const { clientId } = await server.createClient({ authMethod: 'private_key_jwt', jwks });
      const h = fresh({ CLAVIS_SERVER: server.issuer, CLAVIS_CLIENT_ID: clientId });
      const keyFile = join(h.dir, 'key.pem');
      writeFileSync(keyFile, await exportPKCS8(privateKey), { mode: 0o600 });
      const env = { ...h.env, CLAVIS_PRIVATE_KEY_FILE: keyFile };
      const token = await spawnCli(['token'], env);
      expect(token.code).toBe(0);
      expect(token.stdout.trim()).toMatch(JWT);
      const whoami = JSON.parse((await spawnCli(['whoami', '--json'], env)).stdout);
      expect(whoami).toMatchObject({ client_id: clientId, source: 'private_key', store: 'none' });
      // A key the server does not know: one line, exit 4.
      const strangerFile = join(h.dir, 'stranger.pem');
      const stranger = await generateKeyPair('EdDSA', { extractable: true });
      writeFileSync(strangerFile, await exportPKCS8(stranger.privateKey), { mode: 0o600 });
      const refused = await spawnCli(['token'], { ...h.env, CLAVIS_PRIVATE_KEY_FILE: strangerFile });
      expect(refused.code).toBe(4);
      expect(lines(refused.stderr)).toHaveLength(1);
    });

    it('a bad API key or a malformed server is one line, never the key', async () => {
      const bad = await spawnCli(['token'], {
        ...fresh().env,
        CLAVIS_SERVER: server.issuer,
        CLAVIS_API_KEY: 'clv_not_a_real_key_0000',
      });
      expect(bad.code).toBe(1); // malformed: a configuration error, said without the value
      expect(lines(bad.stderr)).toHaveLength(1);
      expect(bad.stderr).not.toContain('clv_not_a_real_key_0000');
      const malformed = await spawnCli(['token', '--server', 'not a url'], fresh().env);
      expect(malformed.code).toBe(1);
      expect(lines(malformed.stderr)).toHaveLength(1);
    });
  });
});
