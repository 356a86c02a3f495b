/**
 * `clavis admin kek rotate` end to end: with the key file beside the database, `--generate` puts a new
 * key on top of it, the database moves to it, and the next commands work with the file as it now is; `--json`
 * gives the same facts; with CLAVIS_KEK and the database already under it, it says how to rotate.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initDatabase, runCli, type Scratch, scratch } from './support/cli.js';

describe('admin kek rotate', () => {
  let tmp: Scratch;
  const admin = (args: string[], env: Record<string, string> = {}) =>
    runCli(['admin', '--db', tmp.dbUrl, ...args], { env });
  beforeEach(() => {
    tmp = scratch();
  });
  afterEach(() => tmp.remove());

  it('key file: --generate puts a new key on top, the database moves, later commands work', async () => {
    await initDatabase(tmp.dbUrl);
    expect((await admin(['users', 'create', 'ada', '--totp'])).code).toBe(0);
    expect((await admin(['clients', 'create', '--name', 'svc', '--kind', 'confidential'])).code).toBe(0);
    const file = join(tmp.dir, 'clavis.kek');
    const oldKey = readFileSync(file, 'utf8').trim();

    // Without --generate: nothing to move yet.
    const idle = await admin(['kek', 'rotate']);
    expect(idle.code).toBe(0);
    expect(idle.stdout).toMatch(
      /^database already under the current KEK \S{12}: 0 signing keys and 0 TOTP secrets re-sealed\n/,
    );
    expect(readFileSync(file, 'utf8').trim()).toBe(oldKey);

    const res = await admin(['kek', 'rotate', '--generate']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = res.stdout.split('\n');
    expect(out[0]).toBe(`new key-encryption key written at the top of ${file}; the old one kept below it`);
    expect(out[1]).toMatch(
      /^database moved from KEK \S{12} to \S{12}: \d+ signing keys and 1 TOTP secrets re-sealed; new secret hashes under hashing key version 1, no credential re-issued$/,
    );
    expect(out[2]).toBe(
      '1 live credentials still hashed under older versions: each moves to the new one when next used (kek status shows how many remain)',
    );
    expect(readFileSync(file, 'utf8')).toContain(`\n${oldKey}\n`);
    expect((await admin(['users', 'list'])).code).toBe(0);

    const json = await admin(['kek', 'rotate', '--generate', '--json']);
    expect(json.code).toBe(0);
    // Version 0 still holds the client's secret, so it stays; version 1 is the one just superseded.
    expect(JSON.parse(json.stdout)).toMatchObject({
      moved: true,
      generated_in: file,
      resealed_totp_secrets: 1,
      hashes_under_older_versions: 1,
      dropped_hashing_versions: [],
      hashing: [
        { version: 2, current: true, total: 0 },
        { version: 1, current: false, total: 0 },
        { version: 0, current: false, total: 1, live: { client_secrets: 1 } },
      ],
    });

    const status = await admin(['kek', 'status']);
    expect(status.stderr).toBe('');
    expect(status.stdout).toMatch(/^database under KEK \S{12} \(the configured one\)\n/);
    expect(status.stdout).toContain(
      'secret-hashing key versions (live credentials stored under each):\n  version 2 (current): 0 live\n  version 1: 0 live\n  version 0: 1 live (1 client secrets)\n',
    );
    // Another rotation drops version 1 by itself (nothing live under it); version 0 still holds the secret.
    const third = await admin(['kek', 'rotate', '--generate']);
    expect(third.stderr).toBe('');
    expect(third.stdout).toContain('\nhashing key versions 1 retired: nothing live used them\n');
    // Retiring it: refused while the secret uses it, then revoked with it; the current one never.
    expect((await admin(['kek', 'retire-hashes', '3'])).stderr).toBe(
      'clavis: version 3 is the current secret-hashing key: it cannot be retired\n',
    );
    const live = await admin(['kek', 'retire-hashes', '0']);
    expect(live.code).toBe(1);
    expect(live.stderr).toContain('version 0 still stores live credentials (1 client_secrets)');
    expect((await admin(['kek', 'retire-hashes', '0', '--revoke-remaining'])).stderr).toBe(
      'clavis: retire secret-hashing key version 0 and revoke what still uses it: refused without --yes (stdin is not a terminal)\n',
    );
    const retired = await admin(['kek', 'retire-hashes', '0', '--revoke-remaining', '--yes', '--json']);
    expect(retired.stderr).toBe('');
    expect(JSON.parse(retired.stdout)).toMatchObject({ retired: 0, revoked: { client_secrets: 1 } });
    expect((await admin(['kek', 'retire-hashes', 'x'])).code).toBe(1);
    expect((await admin(['kek', 'retire-hashes', '0'])).stderr).toBe(
      'clavis: no live secret-hashing key version 0 (see kek status)\n',
    );
    expect(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#')),
    ).toHaveLength(4);

    const audit = await admin(['audit', 'verify']);
    expect(audit.code).toBe(0);
  });

  it('CLAVIS_KEK already current: nothing moves, and it says how to rotate', async () => {
    const env = { CLAVIS_KEK: 'A'.repeat(43) };
    await initDatabase(tmp.dbUrl, env);
    expect((await admin(['clients', 'list'], env)).code).toBe(0);
    const res = await admin(['kek', 'rotate'], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /^database already under the current KEK \S{12}: 0 signing keys and 0 TOTP secrets re-sealed\n/,
    );
    expect(res.stdout).toContain(
      'with CLAVIS_KEK, set it to a new key (openssl rand -base64 32) and CLAVIS_KEK_PREVIOUS to the current one, then run again',
    );
    // A wrong previous key is named, in one line.
    const bad = await admin(['kek', 'rotate'], { ...env, CLAVIS_KEK_PREVIOUS: 'short' });
    expect(bad).toEqual({
      code: 1,
      stdout: '',
      stderr: 'clavis: CLAVIS_KEK_PREVIOUS: entry 1 is not 32 bytes in base64 or base64url\n',
    });
  });
});
