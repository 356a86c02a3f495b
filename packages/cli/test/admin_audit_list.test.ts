/**
 * `clavis admin audit list|export`: filters by time, actor (id or username), outcome and event; a header
 * row and usernames beside ids; `--limit` beyond one page pages through, and a listing the limit cut
 * short says how to continue; `export` writes JSON Lines oldest first with the chain fields; `--follow`
 * (a real process) prints records as they commit and exits 0 on Ctrl-C. Both dialects.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type AuditEntry, openServices } from '@clavis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../test/support/dialects.js';
import { childEnv, initDatabase, lines, runCli, startCli } from './support/cli.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const MINUTE = 60_000;

describe.each(dialects)('audit list and export (%s)', (dialect) => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let aliceId: string;
  const admin = (...args: string[]) => runCli(['admin', '--db', database.url, ...args], { env });

  /** Writes records through the server's audit log, at the times the entries give. */
  async function record(entries: Array<AuditEntry & { at: number }>): Promise<void> {
    let now = 0;
    const services = await openServices({
      dbUrl: database.url,
      kekFile: env.CLAVIS_KEK_FILE,
      writer: 'test',
      clock: () => now,
    });
    try {
      for (const { at, ...entry } of entries) {
        now = at;
        await services.audit.record(entry);
      }
    } finally {
      await services.close();
    }
  }

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    env = { CLAVIS_KEK_FILE: join(database.dir, 'clavis.kek') };
    await initDatabase(database.url, env);
    const alice = await admin('users', 'create', 'alice', '--json');
    expect(alice.code).toBe(0);
    aliceId = (JSON.parse(alice.stdout) as { id: string }).id;
    await record([
      { at: T0, event: 'user.sign_in', actor: { type: 'user', id: aliceId } },
      {
        at: T0 + MINUTE,
        event: 'user.sign_in_failed',
        outcome: 'failure',
        actor: { type: 'user', id: aliceId },
      },
      {
        at: T0 + 2 * MINUTE,
        event: 'token.issue',
        actor: { type: 'client', id: 'svc_one' },
        clientId: 'svc_one',
      },
      {
        at: T0 + 3 * MINUTE,
        event: 'token.issue',
        actor: { type: 'client', id: 'svc_two' },
        clientId: 'svc_two',
      },
    ]);
  });
  afterAll(() => database.drop());

  const window = ['--since', '2026-03-01T12:00:00Z', '--until', '2026-03-01T13:00:00Z'];
  const jsonEvents = (stdout: string) =>
    (JSON.parse(stdout) as Array<{ event: string; at: string }>).map((r) => `${r.at} ${r.event}`);

  it('a header row, then newest first, with the username beside the user id', async () => {
    const res = await admin('audit', 'list', ...window);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    const out = lines(res.stdout);
    expect(out[0]).toMatch(/^AT +EVENT +OUTCOME +ACTOR +IP +DETAIL$/);
    expect(out.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      '2026-03-01T12:03:00.000Z token.issue',
      '2026-03-01T12:02:00.000Z token.issue',
      '2026-03-01T12:01:00.000Z user.sign_in_failed',
      '2026-03-01T12:00:00.000Z user.sign_in',
    ]);
    expect(out[4]).toContain(`user:${aliceId} (alice)`);
  });

  it('--since/--until bound the time; --actor takes an id or a username; --outcome; --action', async () => {
    const between = await admin(
      'audit',
      'list',
      '--since',
      '2026-03-01T12:01:00Z',
      '--until',
      '2026-03-01T12:03:00Z',
      '--json',
    );
    expect(jsonEvents(between.stdout)).toEqual([
      '2026-03-01T12:02:00.000Z token.issue',
      '2026-03-01T12:01:00.000Z user.sign_in_failed',
    ]);
    const byName = await admin('audit', 'list', ...window, '--actor', 'ALICE', '--json');
    const byId = await admin('audit', 'list', ...window, '--actor', aliceId, '--json');
    expect(jsonEvents(byName.stdout)).toEqual(jsonEvents(byId.stdout));
    expect(jsonEvents(byName.stdout)).toHaveLength(2);
    expect((JSON.parse(byName.stdout) as Array<{ actor_name: string }>)[0]?.actor_name).toBe('alice');
    const failures = await admin('audit', 'list', ...window, '--outcome', 'failure', '--json');
    expect(jsonEvents(failures.stdout)).toEqual(['2026-03-01T12:01:00.000Z user.sign_in_failed']);
    const client = await admin(
      'audit',
      'list',
      ...window,
      '--actor',
      'svc_two',
      '--action',
      'token.issue',
      '--json',
    );
    expect(jsonEvents(client.stdout)).toEqual(['2026-03-01T12:03:00.000Z token.issue']);
    expect(client.stderr).toBe('');
  });

  it('an event name this version never writes: still listed, and one stderr line naming its family', async () => {
    const typo = await admin('audit', 'list', ...window, '--event', 'token.isue', '--json');
    expect(typo.code).toBe(0);
    expect(JSON.parse(typo.stdout)).toEqual([]);
    expect(typo.stderr).toMatch(
      /^clavis: this version writes no event named "token\.isue"; the token\.\* events are (token\.[a-z_.]+, )*token\.issue(, token\.[a-z_.]+)*\n$/,
    );
    const unknown = await admin('audit', 'list', ...window, '--action', 'nosuch.event');
    expect(unknown.stderr).toBe('clavis: this version writes no event named "nosuch.event"\n');
  });

  it('a listing cut short by --limit says so on stderr, and --cursor continues it', async () => {
    const first = await admin('audit', 'list', ...window, '--limit', '3', '--json');
    expect(jsonEvents(first.stdout)).toHaveLength(3);
    const cursor = /--cursor (\S+)/.exec(first.stderr)?.[1];
    expect(first.stderr).toMatch(
      /^more records match: continue with --cursor \S+ \(or a larger --limit\)\n$/,
    );
    const rest = await admin(
      'audit',
      'list',
      ...window,
      '--limit',
      '3',
      '--cursor',
      String(cursor),
      '--json',
    );
    expect(rest.stderr).toBe('');
    expect(jsonEvents(rest.stdout)).toEqual(['2026-03-01T12:00:00.000Z user.sign_in']);
    // Exactly as many as match: nothing more to say.
    expect((await admin('audit', 'list', ...window, '--limit', '4')).stderr).toBe('');
  });

  it('bad input: one line, exit 1', async () => {
    for (const [args, message] of [
      [
        ['--since', 'yesterday'],
        /^clavis: option '--since <time>' argument 'yesterday' is invalid\. must be an ISO-8601/,
      ],
      [['--until', '2026-13-45T00:00:00Z'], /^clavis: option '--until <time>' argument .* is invalid/],
      [
        ['--outcome', 'maybe'],
        /^clavis: option '--outcome <outcome>' argument 'maybe' is invalid\. must be success or failure/,
      ],
      [['--cursor', 'not-a-cursor'], /^clavis: --cursor: not a cursor this command printed/],
      [['--cursor', 'x'.repeat(5000)], /^clavis: --cursor: not a cursor this command printed/],
      [['--follow', '--cursor', 'abc'], /^clavis: --follow and --cursor cannot be used together/],
      [['--limit', '0'], /^clavis: option '--limit <n>' argument '0' is invalid/],
    ] as const) {
      const res = await admin('audit', 'list', ...args);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stdout).toBe('');
      expect(lines(res.stderr)).toHaveLength(1);
      expect(res.stderr).toMatch(message);
    }
  });

  it('export: JSON Lines, oldest first, every chain field, to stdout or a 0600 file', async () => {
    const out = await admin('audit', 'export', ...window);
    expect(out).toMatchObject({ code: 0, stderr: '' });
    const records = lines(out.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.event)).toEqual([
      'user.sign_in',
      'user.sign_in_failed',
      'token.issue',
      'token.issue',
    ]);
    expect(Object.keys(records[0] ?? {})).toEqual([
      'at',
      'event',
      'outcome',
      'actor_type',
      'actor_id',
      'actor_name',
      'client_id',
      'ip',
      'user_agent',
      'detail',
      'segment',
      'seq',
      'prev_hash',
      'hash',
      'verified',
    ]);
    expect(records.every((r) => r.verified === true)).toBe(true);
    // Each record links to the one before it in its segment.
    expect(records[1]?.prev_hash).toBe(records[0]?.hash);

    const file = join(database.dir, 'audit.jsonl');
    const toFile = await admin('audit', 'export', '--output', file);
    expect(toFile.code).toBe(0);
    expect(toFile.stdout).toBe('');
    const all = lines(await readFile(file, 'utf8'));
    expect(toFile.stderr).toBe(`exported ${all.length} audit records to ${file}\n`);
    expect(all.length).toBeGreaterThan(4);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const missingDir = await admin(
      'audit',
      'export',
      '--output',
      join(database.dir, 'no', 'such', 'dir', 'x.jsonl'),
    );
    expect(missingDir.code).toBe(1);
    expect(lines(missingDir.stderr)).toHaveLength(1);
  });

  it('--follow prints the records as they commit, and Ctrl-C ends it with exit 0', async () => {
    const follower = startCli(['admin', '--db', database.url, 'audit', 'list', '--follow'], childEnv(env));
    const waitFor = async (text: string) => {
      const deadline = Date.now() + 15_000;
      while (!follower.out.stdout.includes(text)) {
        if (follower.child.exitCode !== null) throw new Error(`--follow exited:\n${follower.out.stderr}`);
        if (Date.now() > deadline)
          throw new Error(`no ${text} in:\n${follower.out.stdout}${follower.out.stderr}`);
        await delay(100);
      }
    };
    try {
      // The header is printed once following has begun; --since defaults to then, so nothing older.
      await waitFor('DETAIL\n');
      expect(lines(follower.out.stdout)).toHaveLength(1);
      expect((await admin('clients', 'create', '--name', 'followed', '--kind', 'confidential')).code).toBe(0);
      await waitFor('"name":"followed"');
      expect(
        lines(follower.out.stdout)
          .slice(1)
          .map((l) => l.split(/\s+/)[1]),
      ).toEqual(['client.create']);
      follower.child.kill('SIGINT');
      const { code, signal } = await follower.exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(follower.out.stderr).toBe('');
    } finally {
      if (follower.child.exitCode === null && follower.child.signalCode === null)
        follower.child.kill('SIGKILL');
    }
  });

  it('--follow --json: one JSON object per line, from --since on', async () => {
    const since = new Date().toISOString();
    expect((await admin('clients', 'create', '--name', 'before-follow', '--kind', 'confidential')).code).toBe(
      0,
    );
    const follower = startCli(
      [
        'admin',
        '--db',
        database.url,
        'audit',
        'list',
        '--follow',
        '--json',
        '--since',
        since,
        '--action',
        'client.create',
      ],
      childEnv(env),
    );
    try {
      const deadline = Date.now() + 15_000;
      while (!follower.out.stdout.includes('before-follow')) {
        if (Date.now() > deadline) throw new Error(`nothing followed:\n${follower.out.stderr}`);
        await delay(100);
      }
      const records = lines(follower.out.stdout).map(
        (l) => JSON.parse(l) as { event: string; detail: { name: string } },
      );
      expect(records.map((r) => r.detail.name)).toEqual(['before-follow']);
      follower.child.kill('SIGTERM');
      expect((await follower.exited).code).toBe(0);
    } finally {
      if (follower.child.exitCode === null && follower.child.signalCode === null)
        follower.child.kill('SIGKILL');
    }
  });
});

describe('a limit beyond one page (sqlite)', () => {
  let database: TestDatabase;
  const env: Record<string, string> = {};
  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    env.CLAVIS_KEK_FILE = join(database.dir, 'clavis.kek');
    await initDatabase(database.url, env);
    let now = T0;
    const services = await openServices({
      dbUrl: database.url,
      kekFile: env.CLAVIS_KEK_FILE,
      writer: 'test',
      clock: () => now,
    });
    try {
      for (let batch = 0; batch < 21; batch++) {
        await Promise.all(
          Array.from({ length: 500 }, () => {
            now += 1;
            return services.audit.record({ event: 'token.issue', actor: { type: 'client', id: 'svc_bulk' } });
          }),
        );
      }
    } finally {
      await services.close();
    }
  }, 120_000);
  afterAll(() => database.drop());

  it('--limit 20000 returns every one of the 10,500 records, not 10,000', async () => {
    const res = await runCli(
      ['admin', '--db', database.url, 'audit', 'list', '--actor', 'svc_bulk', '--limit', '20000', '--json'],
      { env },
    );
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('');
    const records = JSON.parse(res.stdout) as Array<{ seq: number }>;
    expect(records).toHaveLength(10_500);
    expect(new Set(records.map((r) => r.seq)).size).toBe(10_500);
  }, 60_000);

  it('--limit 10001 crosses a page and says more match', async () => {
    const res = await runCli(
      ['admin', '--db', database.url, 'audit', 'list', '--actor', 'svc_bulk', '--limit', '10001'],
      { env },
    );
    expect(res.code).toBe(0);
    expect(lines(res.stdout)).toHaveLength(10_002);
    expect(res.stderr).toMatch(/^more records match: continue with --cursor /);
  }, 60_000);
});
