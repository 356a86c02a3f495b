/**
 * `clavis admin audit archive`, `audit verify --archive` and `audit prune`: archive what is sealed, verify
 * the archive offline (no database), prune it, and the log left verifies; a tampered archive line is one stderr line, exit 1,
 * and an archive that does not verify is never pruned.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initDatabase, runCli, type Scratch, scratch } from './support/cli.js';

describe('audit archive and prune', () => {
  let tmp: Scratch;
  const admin = (...args: string[]) => runCli(['admin', '--db', tmp.dbUrl, ...args]);

  beforeEach(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    // Each admin command writes its own segment and seals it on exit.
    for (const name of ['one', 'two', 'three'])
      expect((await admin('clients', 'create', '--name', name, '--kind', 'confidential')).code).toBe(0);
  });
  afterEach(() => tmp.remove());

  it('archive → verify --archive → prune → verify', async () => {
    const dir = join(tmp.dir, 'archive-1');
    const soon = new Date(Date.now() + 60_000).toISOString();
    const archived = await admin('audit', 'archive', '--before', soon, '--dir', dir);
    expect(archived.stderr).toBe('');
    expect(archived.code).toBe(0);
    expect(archived.stdout).toMatch(/^archived \d+ records and seals 1\.\.\d+ to /);

    // Offline: the database moved away, only the KEK file and the archive are needed.
    renameSync(tmp.dbPath, `${tmp.dbPath}.away`);
    const verified = await admin('audit', 'verify', '--archive', dir);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^audit archive intact: \d+ records?, \d+ seals?\n$/);
    expect(existsSync(tmp.dbPath)).toBe(false);
    renameSync(`${tmp.dbPath}.away`, tmp.dbPath);

    const pruned = await admin('audit', 'prune', '--archive', dir, '--json');
    expect(pruned.code).toBe(0);
    expect(JSON.parse(pruned.stdout).records).toBeGreaterThan(0);
    const after = await admin('audit', 'verify', '--json');
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ ok: true });
    // The prune is itself in the log.
    const listed = await admin('audit', 'list', '--event', 'audit.prune', '--json');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('audit.prune');
    // Nothing to prune twice.
    const again = await admin('audit', 'prune', '--archive', dir);
    expect(again.code).toBe(1);
  });

  it('a tampered archive line: verify fails with one line, and prune refuses', async () => {
    const dir = join(tmp.dir, 'archive-2');
    const soon = new Date(Date.now() + 60_000).toISOString();
    expect((await admin('audit', 'archive', '--before', soon, '--dir', dir)).code).toBe(0);
    const file = join(dir, 'records.jsonl');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('"event":"client.create"', '"event":"client.delete"'),
    );
    const verified = await admin('audit', 'verify', '--archive', dir);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(
      /^clavis: audit archive broken at records\.jsonl: does not match the digest/,
    );
    expect(verified.stderr.trim().split('\n')).toHaveLength(1);
    const pruned = await admin('audit', 'prune', '--archive', dir);
    expect(pruned.code).toBe(1);
    expect(pruned.stderr).toMatch(/does not verify .*nothing was pruned/);
  });
});
