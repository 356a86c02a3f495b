/**
 * At rest and on the wire: a TOTP secret that is not sealed is refused (write access to the database
 * alone must not plant a second factor), and the session cookie takes the `__Host-` prefix only where
 * browsers accept it (https).
 */
import { resolveConfig } from '@clavis/server';
import type { FastifyReply } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createUser, PASSWORD, TOTP_SECRET, userRow } from '../../../../test/support/users.js';
import { COOKIE_NAME, SECURE_COOKIE_NAME, setSessionCookie } from '../../src/pages/page_http.js';
import {
  Browser,
  createDeviceClient,
  createDeviceRequest,
  createPagesServer,
  type PagesServer,
  totpCode,
} from './support.js';

describe.each(dialects)('TOTP secrets at rest (%s)', (dialect) => {
  let server: PagesServer;
  beforeEach(async () => {
    server = await createPagesServer(dialect);
  });
  afterEach(() => server.close());

  it('a plain base32 secret written straight into the database does not make codes pass', async () => {
    const clientId = await createDeviceClient(server);
    const user = await createUser(server, { password: PASSWORD, totp: true });
    expect((await userRow(server, user.id)).totp_secret).toMatch(/^v1\./);
    // Someone with write access but no KEK plants a secret they know.
    await server.services.db
      .updateTable('users')
      .set({ totp_secret: TOTP_SECRET })
      .where('id', '=', user.id)
      .execute();
    const browser = new Browser(server);
    await browser.enterCode((await createDeviceRequest(server, clientId)).shown);
    await browser.signIn(user.username);
    await browser.get('/device/mfa');
    const res = await browser.post('/device/mfa', { code: totpCode(server) });
    expect(res.statusCode).not.toBe(303);
    const session = await server.services.db
      .selectFrom('sessions')
      .select('mfa_at')
      .where('user_id', '=', user.id)
      .execute();
    expect(session.every((s) => s.mfa_at === null)).toBe(true);
  });
});

describe('session cookie name', () => {
  function cookieFor(issuer: string): string {
    const headers: Record<string, string> = {};
    const reply = {
      header(name: string, value: string) {
        headers[name] = value;
        return this;
      },
    } as unknown as FastifyReply;
    const config = resolveConfig({ issuer });
    setSessionCookie({ config, db: undefined as never, cookieKey: Buffer.alloc(32, 1) }, reply, 'abc');
    return headers['set-cookie'] ?? '';
  }

  it('https: __Host- prefix, Secure, Path=/', () => {
    expect(cookieFor('https://as.example')).toMatch(
      new RegExp(`^${SECURE_COOKIE_NAME}=abc\\..+; Path=/; .*; Secure$`),
    );
  });

  it('http (development): the plain name, scoped to the pages, without Secure', () => {
    const cookie = cookieFor('http://127.0.0.1:8080');
    expect(cookie).toMatch(new RegExp(`^${COOKIE_NAME}=abc\\..+; Path=/device; `));
    expect(cookie).not.toContain('Secure');
  });
});
