/**
 * Several processes opening one new SQLite file at the same moment (`clavis serve` and `clavis admin`,
 * or two admin commands) all succeed, and the schema is migrated once. SQLite has no migration lock, so
 * this needs real processes: within one process the race cannot happen.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type TempDir, tempDir } from '../../../../test/support/temp_dir.js';
import { migrations } from '../../src/storage/migrations/index.js';

const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

function openIn(path: string): Promise<string> {
  const script = `const { openDatabase } = await import(${JSON.stringify(dist)});
    const d = await openDatabase(${JSON.stringify(`sqlite:${path}`)}); await d.close(); process.stdout.write('ok');`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

describe('SQLite opened by several processes at once', () => {
  const dirs: TempDir[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove();
  });

  it('every process succeeds and each migration is recorded once', async () => {
    expect(existsSync(dist), 'run npm run build first (npm test does)').toBe(true);
    for (let round = 0; round < 3; round++) {
      const dir = tempDir('clavis-race-');
      dirs.push(dir);
      const path = join(dir.path, 'clavis.db');
      expect(await Promise.all([openIn(path), openIn(path), openIn(path)])).toEqual(['ok', 'ok', 'ok']);
      const db = new DatabaseSync(path);
      try {
        const rows = db.prepare('select name from kysely_migration').all() as Array<{ name: string }>;
        expect(rows.map((r) => r.name)).toEqual(Object.keys(migrations));
      } finally {
        db.close();
      }
    }
  });
});
