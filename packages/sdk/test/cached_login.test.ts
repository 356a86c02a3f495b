/**
 * `@clavis/sdk/cached` answers exactly where the full client would hand out a file-stored login's token
 * as it is, and stays out of every other case.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LoginStore, type StoredLogin } from '@clavis/sdk';
import { cachedLoginToken, lastServer } from '@clavis/sdk/cached';
import { afterEach, describe, expect, it } from 'vitest';
import { type Scratch, scratch } from './support/env.js';

const issuer = 'https://clavis.example.test';
const clientId = 'clavis-cli';
const now = 1_800_000_000_000;

function login(overrides: Partial<StoredLogin> = {}): StoredLogin {
  return {
    issuer,
    clientId,
    sub: 'usr_1',
    username: 'ada',
    accessToken: 'eyJ.access.token',
    obtainedAt: now - 60_000,
    expiresAt: now + 10 * 60_000,
    scopes: ['openid'],
    refreshToken: 'clvr_x',
    ...overrides,
  };
}

describe('cachedLoginToken', () => {
  let s: Scratch;
  afterEach(async () => s?.cleanup());

  async function stored(value: StoredLogin): Promise<Scratch> {
    s = await scratch();
    await new LoginStore({ env: s.env, keychain: null, warn: () => {} }).save(value);
    return s;
  }

  it('hands out a fresh file-stored login, and names the remembered server', async () => {
    const { env } = await stored(login());
    expect(await cachedLoginToken({ env, issuer, clientId, now: () => now })).toEqual({
      accessToken: 'eyJ.access.token',
      expiresAt: now + 10 * 60_000,
    });
    expect(await lastServer(env)).toBe(issuer);
  });

  it('stays out when the token is within the renewal margin, or for another server or client', async () => {
    const { env } = await stored(login({ expiresAt: now + 5_000 }));
    expect(await cachedLoginToken({ env, issuer, clientId, now: () => now })).toBeUndefined();
    expect(await cachedLoginToken({ env, issuer: `${issuer}:8443`, clientId })).toBeUndefined();
    expect(await cachedLoginToken({ env, issuer, clientId: 'other' })).toBeUndefined();
  });

  it.each([
    'CLAVIS_API_KEY',
    'CLAVIS_API_KEY_COMMAND',
    'CLAVIS_CLIENT_ID',
    'CLAVIS_REQUIRE_KEYCHAIN',
    'CI',
    'GITHUB_ACTIONS',
    'JENKINS_URL',
  ])('leaves the decision to the full client when %s is set', async (name) => {
    const { env } = await stored(login());
    expect(
      await cachedLoginToken({ env: { ...env, [name]: 'true' }, issuer, clientId, now: () => now }),
    ).toBeUndefined();
  });

  it('reads a missing, malformed or tampered store as nothing', async () => {
    s = await scratch();
    expect(await cachedLoginToken({ env: s.env, issuer, clientId })).toBeUndefined();
    const { env } = await stored(login());
    const dir = join(env.XDG_CONFIG_HOME as string, 'clavis');
    await writeFile(join(dir, 'credentials.json'), '{"not": "it"');
    expect(await cachedLoginToken({ env, issuer, clientId, now: () => now })).toBeUndefined();
    await writeFile(
      join(dir, 'credentials.json'),
      JSON.stringify({ [`${issuer} ${clientId} usr_1`]: { accessToken: 7, expiresAt: 'soon' } }),
    );
    expect(await cachedLoginToken({ env, issuer, clientId, now: () => now })).toBeUndefined();
  });
});
