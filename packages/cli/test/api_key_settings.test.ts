/**
 * The API-key limits come from the environment for `serve` and the admin commands alike
 * (CLAVIS_API_KEY_MAX_TTL, CLAVIS_API_KEY_MINT_MAX_TTL, CLAVIS_API_KEY_IDLE_REVOKE), so the cap the server
 * enforces is the one `admin keys create` checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeySettings } from '../src/settings.js';
import { initDatabase, lines, runCli, type Scratch, scratch } from './support/cli.js';

describe('API-key settings from the environment', () => {
  it('reads durations and leaves unset ones to the server defaults', () => {
    expect(apiKeySettings({})).toEqual({});
    expect(
      apiKeySettings({
        CLAVIS_API_KEY_MAX_TTL: '7d',
        CLAVIS_API_KEY_MINT_MAX_TTL: '15m',
        CLAVIS_API_KEY_IDLE_REVOKE: '12h',
      }),
    ).toEqual({
      apiKeyMaxTtlSeconds: 604_800,
      apiKeyMintMaxTtlSeconds: 900,
      apiKeyIdleRevokeSeconds: 43_200,
    });
  });

  it('names the variable of a bad value', () => {
    expect(() => apiKeySettings({ CLAVIS_API_KEY_MAX_TTL: 'forever' })).toThrow(/^CLAVIS_API_KEY_MAX_TTL: /);
  });

  describe('admin keys create', () => {
    let tmp: Scratch;
    let clientId: string;
    const admin = (env: Record<string, string>, ...args: string[]) =>
      runCli(['admin', '--db', tmp.dbUrl, ...args], { env });

    beforeAll(async () => {
      tmp = scratch();
      await initDatabase(tmp.dbUrl);
      const res = await admin(
        {},
        'clients',
        'create',
        '--name',
        'ci',
        '--kind',
        'confidential',
        '--scope',
        'read',
        '--json',
      );
      expect(res.code, res.stderr).toBe(0);
      clientId = (JSON.parse(res.stdout) as { client_id: string }).client_id;
    });
    afterAll(() => tmp.remove());

    it('refuses a lifetime above CLAVIS_API_KEY_MAX_TTL and accepts one within it', async () => {
      const env = { CLAVIS_API_KEY_MAX_TTL: '1d' };
      const over = await admin(env, 'keys', 'create', '--owner', clientId, '--scope', 'read', '--ttl', '2d');
      expect(over.code).not.toBe(0);
      expect(lines(over.stderr)).toHaveLength(1);
      expect(over.stdout).toBe('');
      const within = await admin(
        env,
        'keys',
        'create',
        '--owner',
        clientId,
        '--scope',
        'read',
        '--ttl',
        '1d',
        '--json',
      );
      expect(within.code, within.stderr).toBe(0);
      // Without the variable the default 90-day cap applies.
      const dflt = await admin(
        {},
        'keys',
        'create',
        '--owner',
        clientId,
        '--scope',
        'read',
        '--ttl',
        '2d',
        '--json',
      );
      expect(dflt.code, dflt.stderr).toBe(0);
    });

    it('reports a malformed variable in one stderr line', async () => {
      const res = await admin({ CLAVIS_API_KEY_MAX_TTL: '1 day' }, 'keys', 'list');
      expect(res.code).not.toBe(0);
      expect(lines(res.stderr)).toEqual([expect.stringMatching(/^clavis: CLAVIS_API_KEY_MAX_TTL: /)]);
    });
  });
});
