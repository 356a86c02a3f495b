/**
 * Least privilege for people: a person's token carries only what that person is entitled to, whatever
 * the client's ceiling — `admin` only for an administrator who passed a second factor, the person's own
 * scope ceiling, and a minimal default when the device asked for no scope. The consent page shows what
 * will be granted; a refresh never widens, and narrows for good when the person lost an entitlement.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storedUserCode } from '../../../../test/support/device_decision.js';
import { dialects } from '../../../../test/support/dialects.js';
import { jwtClaims } from '../../../../test/support/jwt.js';
import { post } from '../../../../test/support/oauth.js';
import { createUser, PASSWORD, TOTP_SECRET } from '../../../../test/support/users.js';
import { CLI_CLIENT_ID } from '../../src/clients/client.js';
import { bootstrap } from '../../src/runtime/bootstrap.js';
import { sealTotpSecret } from '../../src/users/totp_secret.js';
import { Browser, createPagesServer, type PagesServer, totpCode } from './support.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe.each(dialects)('least privilege for people (%s)', (dialect) => {
  let server: PagesServer;
  beforeEach(async () => {
    server = await createPagesServer(dialect);
    // The built-in CLI client, exactly as a first start creates it: ceiling `openid profile admin`.
    await bootstrap(server.services, { adminPassword: PASSWORD });
  });
  afterEach(() => server.close());

  async function person(input: { admin?: boolean; totp?: boolean; scopes?: string[] }) {
    const user = await createUser(server, { password: PASSWORD, totp: input.totp === true });
    await server.services.db
      .updateTable('users')
      .set({
        is_admin: input.admin ? 1 : 0,
        scopes: input.scopes ? JSON.stringify(input.scopes) : null,
      })
      .where('id', '=', user.id)
      .execute();
    return user;
  }

  async function deviceRequest(clientId: string, scope?: string) {
    const res = await post(server, '/oauth/device_authorization', {
      client_id: clientId,
      ...(scope === undefined ? {} : { scope }),
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { device_code: string; user_code: string };
  }

  /** Enter the code, sign in, pass TOTP when the person has it, and return the consent page. */
  async function toConsent(browser: Browser, userCode: string, username: string, withTotp: boolean) {
    await browser.enterCode(userCode);
    await browser.signIn(username);
    if (withTotp) {
      await browser.get('/device/mfa');
      const mfa = await browser.post('/device/mfa', { code: totpCode(server) });
      expect(mfa.statusCode, mfa.body).toBe(303);
    }
    const consent = await browser.get('/device/consent');
    expect(consent.statusCode, consent.body).toBe(200);
    return consent;
  }

  async function approveAndRedeem(
    browser: Browser,
    consentBody: string,
    clientId: string,
    deviceCode: string,
  ) {
    const request = /name="request" value="([^"]+)"/.exec(consentBody)?.[1] ?? '';
    const approved = await browser.post('/device/consent', { request, action: 'approve' });
    expect(approved.statusCode, approved.body).toBe(303);
    const res = await post(server, '/oauth/token', {
      grant_type: DEVICE_GRANT,
      device_code: deviceCode,
      client_id: clientId,
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { access_token: string; refresh_token: string; scope?: string };
  }

  it('a device request without scope asks for openid profile, not the client’s ceiling', async () => {
    const auth = await deviceRequest(CLI_CLIENT_ID);
    const row = await server.services.db
      .selectFrom('device_codes')
      .select('scopes')
      .where('user_code', '=', storedUserCode(server.services.stableKeys.auditSubjects, auth.user_code))
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.scopes)).toEqual(['openid', 'profile']);
  });

  it('a person who is not an administrator asking clavis-cli for admin gets neither admin nor a page that offers it', async () => {
    const ada = await person({ totp: true });
    const auth = await deviceRequest(CLI_CLIENT_ID, 'openid profile admin');
    const browser = new Browser(server);
    const consent = await toConsent(browser, auth.user_code, ada.username, true);
    const granted = /<dt>Access<\/dt><dd>(.*?)<\/dd>/s.exec(consent.body)?.[1] ?? '';
    expect(granted).toContain('<code>openid</code>');
    expect(granted).not.toContain('<code>admin</code>');
    expect(consent.body).toContain('Asked for, not granted to you');
    const tokens = await approveAndRedeem(browser, consent.body, CLI_CLIENT_ID, auth.device_code);
    expect(tokens.scope).toBe('openid profile');
    expect(jwtClaims(tokens.access_token).scope).toBe('openid profile');
  });

  it('an administrator who passed TOTP gets admin; the bootstrap admin can too', async () => {
    const root = await server.services.db
      .selectFrom('users')
      .select(['id', 'username'])
      .where('username', '=', 'admin')
      .executeTakeFirstOrThrow();
    await server.services.db
      .updateTable('users')
      .set({ totp_secret: sealTotpSecret(server.services.totpKey, root.id, TOTP_SECRET) })
      .where('id', '=', root.id)
      .execute();
    const auth = await deviceRequest(CLI_CLIENT_ID, 'openid admin');
    const browser = new Browser(server);
    const consent = await toConsent(browser, auth.user_code, root.username, true);
    expect(consent.body).toContain('<code>admin</code>');
    expect(consent.body).not.toContain('Asked for, not granted to you');
    const tokens = await approveAndRedeem(browser, consent.body, CLI_CLIENT_ID, auth.device_code);
    expect(tokens.scope).toBe('openid admin');
  });

  it('an administrator approving without a second factor does not get admin', async () => {
    // A client that does not require MFA, and an administrator without TOTP.
    const { client } = await (async () => {
      const { adminClients } = await import('@clavis/server');
      return adminClients.createClient(
        {
          db: server.services.db,
          audit: server.services.audit,
          hasher: server.services.hasher,
          clock: server.clock.read,
          maxAccessTokenTtlSeconds: server.config.maxAccessTokenTtlSeconds,
          defaultAccessTokenTtlSeconds: server.config.defaultAccessTokenTtlSeconds,
        },
        {
          name: 'no-mfa cli',
          kind: 'public',
          grants: ['device_code', 'refresh_token'],
          scopes: ['openid', 'admin'],
        },
        { type: 'admin', id: 'test' },
      );
    })();
    const boss = await person({ admin: true });
    const auth = await deviceRequest(client.id, 'openid admin');
    const browser = new Browser(server);
    const consent = await toConsent(browser, auth.user_code, boss.username, false);
    const tokens = await approveAndRedeem(browser, consent.body, client.id, auth.device_code);
    expect(tokens.scope).toBe('openid');
  });

  it('the person’s own ceiling caps their token (openid stays outside it)', async () => {
    const { adminClients } = await import('@clavis/server');
    const { client } = await adminClients.createClient(
      {
        db: server.services.db,
        audit: server.services.audit,
        hasher: server.services.hasher,
        clock: server.clock.read,
        maxAccessTokenTtlSeconds: server.config.maxAccessTokenTtlSeconds,
        defaultAccessTokenTtlSeconds: server.config.defaultAccessTokenTtlSeconds,
      },
      {
        name: 'wide cli',
        kind: 'public',
        grants: ['device_code', 'refresh_token'],
        scopes: ['openid', 'read', 'write'],
      },
      { type: 'admin', id: 'test' },
    );
    const reader = await person({ scopes: ['read'] });
    const auth = await deviceRequest(client.id, 'openid read write');
    const browser = new Browser(server);
    const consent = await toConsent(browser, auth.user_code, reader.username, false);
    const tokens = await approveAndRedeem(browser, consent.body, client.id, auth.device_code);
    expect(tokens.scope).toBe('openid read');
  });

  it('a refresh after the person lost admin narrows the family for good; it never widens again', async () => {
    const boss = await person({ admin: true, totp: true });
    const auth = await deviceRequest(CLI_CLIENT_ID, 'openid admin');
    const browser = new Browser(server);
    const consent = await toConsent(browser, auth.user_code, boss.username, true);
    const tokens = await approveAndRedeem(browser, consent.body, CLI_CLIENT_ID, auth.device_code);
    expect(tokens.scope).toBe('openid admin');

    const setAdmin = (v: number) =>
      server.services.db.updateTable('users').set({ is_admin: v }).where('id', '=', boss.id).execute();
    await setAdmin(0);
    const first = await post(server, '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: CLI_CLIENT_ID,
    });
    expect(first.statusCode, first.body).toBe(200);
    const narrowed = first.json() as { refresh_token: string; scope: string };
    expect(narrowed.scope).toBe('openid');

    // Administrator again: the family does not get admin back without a new approval.
    await setAdmin(1);
    const asked = await post(server, '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: narrowed.refresh_token,
      client_id: CLI_CLIENT_ID,
      scope: 'openid admin',
    });
    expect(asked.statusCode, asked.body).toBe(400);
    expect(asked.json()).toMatchObject({ error: 'invalid_scope' });
    const plain = await post(server, '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: narrowed.refresh_token,
      client_id: CLI_CLIENT_ID,
    });
    expect(plain.statusCode, plain.body).toBe(200);
    expect((plain.json() as { scope: string }).scope).toBe('openid');
  });
});
