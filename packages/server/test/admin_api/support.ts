/**
 * The admin API under test: an in-process server (real storage, keys, audit, clock) with the built-in
 * clavis-cli client, and real access tokens — a person's through the device flow and the verification
 * pages (sign-in, TOTP, consent), a service principal's through client credentials.
 */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { TestDialect } from '../../../../test/support/dialects.js';
import { basic, post } from '../../../../test/support/oauth.js';
import {
  createTestServer,
  type TestServer,
  type TestServerOptions,
} from '../../../../test/support/test_server.js';
import { createUser, PASSWORD } from '../../../../test/support/users.js';
import { CLI_CLIENT_ID } from '../../src/clients/client.js';
import { bootstrap } from '../../src/runtime/bootstrap.js';
import { Browser, totpCode } from '../pages/support.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export async function createAdminApiServer(
  dialect: TestDialect,
  options: TestServerOptions = {},
): Promise<TestServer> {
  const server = await createTestServer(dialect, options);
  await bootstrap(server.services, { adminPassword: PASSWORD });
  return server;
}

export interface PersonToken {
  userId: string;
  username: string;
  accessToken: string;
  refreshToken: string;
  scope: string;
}

/**
 * A person's tokens from clavis-cli, the way `clavis login --scope admin` gets them: the device flow,
 * approved in the pages (with TOTP when `totp`).
 */
export async function personToken(
  server: TestServer,
  options: { admin?: boolean; totp?: boolean; scope?: string } = {},
): Promise<PersonToken> {
  const totp = options.totp ?? true;
  const user = await createUser(server, { password: PASSWORD, totp, isAdmin: options.admin ?? true });
  const auth = await post(server, '/oauth/device_authorization', {
    client_id: CLI_CLIENT_ID,
    scope: options.scope ?? 'openid admin',
  });
  expect(auth.statusCode, auth.body).toBe(200);
  const { device_code, user_code } = auth.json() as { device_code: string; user_code: string };
  const browser = new Browser(server);
  await browser.enterCode(user_code);
  await browser.signIn(user.username);
  if (totp) {
    await browser.get('/device/mfa');
    const mfa = await browser.post('/device/mfa', { code: totpCode(server) });
    expect(mfa.statusCode, mfa.body).toBe(303);
  }
  const consent = await browser.get('/device/consent');
  expect(consent.statusCode, consent.body).toBe(200);
  const request = Browser.requestOf(consent) ?? '';
  const approved = await browser.post('/device/consent', { request, action: 'approve' });
  expect(approved.statusCode, approved.body).toBe(303);
  const res = await post(server, '/oauth/token', {
    grant_type: DEVICE_GRANT,
    device_code,
    client_id: CLI_CLIENT_ID,
  });
  expect(res.statusCode, res.body).toBe(200);
  const tokens = res.json() as { access_token: string; refresh_token: string; scope: string };
  return {
    userId: user.id,
    username: user.username,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    scope: tokens.scope,
  };
}

/** A service principal's token (client credentials) for a client registered with `scopes`. */
export async function serviceToken(
  server: TestServer,
  scopes: string[] = ['admin'],
  audiences: string[] = [],
): Promise<{ clientId: string; accessToken: string }> {
  const { client, secret } = await server.createClient({
    name: 'automation',
    scopes,
    audiences,
    grants: ['client_credentials'],
  });
  const res = await server.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(client.id, secret ?? ''),
    },
    payload: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes.join(' ') }).toString(),
  });
  expect(res.statusCode, res.body).toBe(200);
  return { clientId: client.id, accessToken: (res.json() as { access_token: string }).access_token };
}

export interface CallOptions {
  token?: string | undefined;
  body?: unknown;
  headers?: Record<string, string>;
  /** A raw payload (malformed JSON, other content types). */
  payload?: string;
}

/** One call of the admin API, in process. */
export function call(
  server: TestServer,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  options: CallOptions = {},
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let payload: string | undefined = options.payload;
  if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  return server.app.inject({
    method,
    url: `/admin/v1${path}`,
    headers,
    remoteAddress: '198.51.100.7',
    ...(payload !== undefined ? { payload } : {}),
  });
}
