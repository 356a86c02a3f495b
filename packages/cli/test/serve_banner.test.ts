/**
 * The next steps `clavis serve` prints are pasted into a shell by a newcomer: the `--db` they carry must
 * survive the shell (a PostgreSQL URL quoted, never a `<db>` placeholder the shell reads as a redirect),
 * never show a password, and the person's path is `clavis login`, not a bare device request nobody polls.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, dialects } from '../../../test/support/dialects.js';
import { freePort } from '../../../test/support/free_port.js';
import { dbArgument, kekFileStep, runServe } from '../src/commands/serve_run.js';
import { TextSink } from './support/cli.js';

/** What bash makes of WORD, as one argument. */
const shellWord = (word: string): string =>
  spawnSync('bash', ['-c', `printf %s ${word}`], { encoding: 'utf8' }).stdout;

async function bannerOf(dbUrl: string, dir: string): Promise<{ text: string; port: number }> {
  const stderr = new TextSink();
  const port = await freePort();
  await runServe(
    { db: dbUrl, port, host: '127.0.0.1' },
    {
      stderr,
      env: { CLAVIS_KEK_FILE: join(dir, 'clavis.kek'), CLAVIS_AUDIT_ANCHOR: join(dir, 'anchor') },
      // Stop as soon as the server has started and printed its banner.
      stopSignal: Promise.resolve('SIGTERM'),
    },
  );
  return { text: stderr.text, port };
}

describe('serve banner: the --db of the next steps', () => {
  it('is the SQLite file as described', () => {
    expect(dbArgument('sqlite', 'sqlite:/srv/clavis/clavis.db', 'sqlite:./clavis.db')).toBe(
      'sqlite:/srv/clavis/clavis.db',
    );
  });

  it('is a PostgreSQL URL the shell hands over intact, query and all', () => {
    const url = 'postgres://clavis@db.internal:5432/clavis?schema=auth&lock_timeout=1s';
    const arg = dbArgument('postgres', 'postgres://clavis@db.internal:5432/clavis (schema auth)', url);
    expect(arg).not.toContain('<');
    expect(shellWord(arg)).toBe(url);
  });

  it('never prints the password: it becomes the placeholder PASSWORD', () => {
    const arg = dbArgument('postgres', '-', "postgres://clavis:s3cr'et@db/clavis?schema=auth"); // secretlint-disable-line
    expect(arg).not.toContain('s3cr');
    expect(shellWord(arg)).toBe('postgres://clavis:PASSWORD@db/clavis?schema=auth');
  });
});

describe.each(dialects)('serve banner on %s', (dialect) => {
  it('next steps: the database as a pasteable --db, and clavis login for a person', async () => {
    const database = await createTestDatabase(dialect);
    try {
      const { text, port } = await bannerOf(database.url, database.dir);
      const steps = text.slice(text.indexOf('Next steps:'));
      const admin = steps.split('\n').filter((l) => l.includes(' admin --db '));
      expect(admin.length).toBeGreaterThan(0);
      // A password in the test database's URL is printed as the placeholder, never as itself.
      const expected = new URL(database.url);
      if (expected.password) expected.password = 'PASSWORD';
      for (const line of admin) {
        expect(line).not.toContain('<db>');
        const db = / admin --db (\S+) /.exec(line)?.[1] ?? '';
        expect(shellWord(db)).toBe(dialect === 'sqlite' ? database.url : expected.toString());
      }
      expect(steps).toContain(`npm run --silent clavis -- login --server http://127.0.0.1:${port}\n`);
      // On PostgreSQL the admin commands look for the key file where they run: the steps name it.
      const kekLine = `  The admin commands need this server's key file: export CLAVIS_KEK_FILE='${join(database.dir, 'clavis.kek')}'\n`;
      if (dialect === 'sqlite') expect(steps).not.toContain('CLAVIS_KEK_FILE');
      else expect(steps).toContain(kekLine);
      expect(steps).not.toContain('/oauth/device_authorization');
    } finally {
      await database.drop();
    }
  });
});

describe('serve banner: where the admin commands find the key file', () => {
  it('nothing when they find it by themselves (beside the SQLite file) or the key is in CLAVIS_KEK', () => {
    expect(kekFileStep('sqlite', 'sqlite:/srv/clavis/clavis.db', '/srv/clavis/clavis.kek')).toBeUndefined();
    expect(kekFileStep('postgres', 'postgres://db/clavis', 'CLAVIS_KEK')).toBeUndefined();
  });

  it('an export line, quoted for the shell, anywhere else', () => {
    expect(kekFileStep('sqlite', 'sqlite:/srv/clavis/clavis.db', "/etc/clavis/it's.kek")).toBe(
      "  The admin commands need this server's key file: export CLAVIS_KEK_FILE='/etc/clavis/it'\\''s.kek'",
    );
    expect(kekFileStep('postgres', 'postgres://db/clavis', '/srv/clavis.kek')).toBe(
      "  The admin commands need this server's key file: export CLAVIS_KEK_FILE='/srv/clavis.kek'",
    );
  });
});
