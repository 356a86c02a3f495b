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
      /^database moved from KEK \S{12} to \S{12}: \d+ signing keys and 1 TOTP secrets re-sealed; secret hashes unchanged, no credential re-issued$/,
    );
    expect(readFileSync(file, 'utf8')).toContain(`\n${oldKey}\n`);
    expect((await admin(['users', 'list'])).code).toBe(0);

    const json = await admin(['kek', 'rotate', '--generate', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      moved: true,
      generated_in: file,
      resealed_totp_secrets: 1,
    });
    expect(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#')),
    ).toHaveLength(3);

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
