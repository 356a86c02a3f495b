/**
 * The run functions called directly, as the next commands' tests will call theirs: options as the wiring
 * would build them, and deps built here (collecting streams, an environment of our choosing, a fixed
 * clock where time matters, and the real services opener on a real database of each dialect). Bad input
 * that the flag parsers would stop is given to `run` as well: the run function and the server below it
 * must refuse it themselves, and write nothing.
 */
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AdminError } from '@clavis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../test/support/dialects.js';
import { runAuditVerify } from '../src/commands/admin/audit_run.js';
import { runClientsCreate, runClientsShow } from '../src/commands/admin/clients_run.js';
import type { AdminRunDeps, AdminTarget } from '../src/commands/admin/context.js';
import { type KeysCreateOptions, runKeysCreate, runKeysList } from '../src/commands/admin/keys_run.js';
import { adminOpener } from '../src/commands/admin/session.js';
import { runUsersCreate, runUsersList } from '../src/commands/admin/users_run.js';
import { CliError } from '../src/errors.js';
import { describeFailure } from '../src/failure.js';
import type { Env } from '../src/io.js';
import { initDatabase, lines, TextSink } from './support/cli.js';

const SECRET = /^clvs_[A-Za-z0-9_-]{43}$/;
/** 2030-01-01T00:00:00Z: far from the real time, so a value taken from the real clock would show. */
const FIXED_NOW = Date.UTC(2030, 0, 1);

type Deps = AdminRunDeps & { stdout: TextSink; stderr: TextSink };

describe.each(dialects)('run functions called directly (%s)', (dialect) => {
  let database: TestDatabase;
  let target: AdminTarget;

  /** The deps of one call: fresh streams; the KEK beside the database; `env` added to the environment. */
  function deps(options: { env?: Env; clock?: () => number; stdin?: string } = {}): Deps {
    const env: Env = { CLAVIS_KEK_FILE: join(database.dir, 'kek'), ...options.env };
    const clock = options.clock ?? Date.now;
    return {
      stdout: new TextSink(),
      stderr: new TextSink(),
      stdin: Readable.from([options.stdin ?? '']),
      env,
      stopSignal: new Promise<string>(() => {}),
      clock,
      openAdmin: adminOpener(env, clock),
    };
  }

  /** A refusal: the error main would print as one line with exit 1, and nothing on stdout. */
  async function expectRefused(run: (d: Deps) => Promise<void>, message: RegExp, d = deps()) {
    const err = await run(d).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err === undefined ? 'no error' : 'error').toBe('error');
    expect(err instanceof AdminError || err instanceof CliError, String(err)).toBe(true);
    const { message: text, exitCode } = describeFailure(err);
    expect(exitCode).toBe(1);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
    expect(d.stdout.text).toBe('');
  }

  async function createConfidential(name: string): Promise<{ client_id: string; client_secret: string }> {
    const d = deps();
    await runClientsCreate(
      { ...target, name, kind: 'confidential', grant: [], scope: ['read'], audience: [], json: true },
      d,
    );
    return JSON.parse(d.stdout.text) as { client_id: string; client_secret: string };
  }

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    await initDatabase(database.url, { CLAVIS_KEK_FILE: join(database.dir, 'kek') });
    target = { db: database.url };
  });
  afterAll(() => database.drop());

  describe('runClientsCreate', () => {
    it('json: the client and its secret as one JSON document on stdout, nothing on stderr', async () => {
      const d = deps();
      await runClientsCreate(
        {
          ...target,
          name: 'json',
          kind: 'confidential',
          grant: [],
          scope: ['read'],
          audience: [],
          json: true,
        },
        d,
      );
      expect(d.stderr.text).toBe('');
      const body = JSON.parse(d.stdout.text) as Record<string, unknown>;
      expect(body).toMatchObject({
        client_id: expect.stringMatching(/^svc_/),
        name: 'json',
        kind: 'confidential',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        scopes: ['read'],
        access_token_ttl: 600,
        client_secret: expect.stringMatching(SECRET),
      });

      // Stored: show finds it, and never prints the secret again.
      const shown = deps();
      await runClientsShow({ ...target, id: String(body.client_id), json: true }, shown);
      const { client_secret: _secret, ...view } = body;
      expect(JSON.parse(shown.stdout.text)).toEqual(view);
    });

    it('text: one "field value" line each, the secret last, and a one-line warning on stderr', async () => {
      const d = deps();
      await runClientsCreate(
        {
          ...target,
          name: 'text',
          kind: 'confidential',
          grant: [],
          scope: ['read', 'write'],
          audience: [],
          tokenTtl: 300,
        },
        d,
      );
      const out = lines(d.stdout.text);
      // The field padded to 26 characters, a space, the value (empty for an empty list).
      for (const line of out) {
        expect(line.slice(0, 26).trimEnd()).toMatch(/^[a-z_]+$/);
        expect(line[26]).toBe(' ');
      }
      expect(out.find((l) => l.startsWith('client_id '))).toMatch(/^client_id {18}svc_/);
      expect(out).toContain(`${'scopes'.padEnd(26)} read write`);
      expect(out).toContain(`${'access_token_ttl'.padEnd(26)} 5m`);
      expect(out.at(-1)).toMatch(new RegExp(`^client_secret {14}${SECRET.source.slice(1)}`));
      expect(d.stderr.text).toBe('Store the client secret now: it is shown only this once.\n');
    });

    it('text, public client: no secret line and no warning', async () => {
      const d = deps();
      await runClientsCreate(
        { ...target, name: 'cli', kind: 'public', grant: ['device_code'], scope: [], audience: [] },
        d,
      );
      expect(d.stdout.text).toMatch(/^client_id {18}cli_/);
      expect(d.stdout.text).not.toContain('client_secret');
      expect(d.stderr.text).toBe('');
    });

    it('a JWKS file that cannot be read is refused before the database is touched', async () => {
      await expectRefused(
        (d) =>
          runClientsCreate(
            {
              ...target,
              name: 'jwt',
              kind: 'confidential',
              grant: [],
              scope: ['read'],
              audience: [],
              authMethod: 'private_key_jwt',
              jwksFile: join(database.dir, 'missing.json'),
            },
            d,
          ),
        /^cannot read JWKS file .*missing\.json$/,
      );
    });
  });

  describe('runKeysCreate, bad input', () => {
    let owner: string;
    beforeAll(async () => {
      owner = (await createConfidential('key-owner')).client_id;
    });

    const valid = (): KeysCreateOptions => ({ ...target, owner, scope: ['read'], ttl: 3600, cidr: [] });
    const cases: Array<[string, Partial<KeysCreateOptions>, RegExp]> = [
      ['a zero lifetime', { ttl: 0 }, /^the lifetime must be a positive number of seconds$/],
      ['a negative lifetime', { ttl: -60 }, /^the lifetime must be a positive number of seconds$/],
      ['a lifetime that is not a number', { ttl: Number.NaN }, /^the lifetime must be a positive number/],
      ['a lifetime over the 90-day cap', { ttl: 91 * 86_400 }, /^the lifetime exceeds the maximum of 90d$/],
      ['no scope', { scope: [] }, /^a key needs at least one scope$/],
      [
        'a scope outside the owner’s ceiling',
        { scope: ['admin'] },
        /^scope beyond the ceiling of svc_\S+: admin$/,
      ],
      ['a CIDR with host bits set', { cidr: ['10.0.0.1/8'] }, /^CIDR "10\.0\.0\.1\/8" has host bits set/],
      ['an address with a zone', { cidr: ['fe80::1%eth0'] }, /zone ids are not allowed$/],
      ['zero uses', { maxUses: 0 }, /^max uses must be a whole number/],
      ['a negative rate limit', { rateLimit: -1 }, /^the rate limit must be a whole number/],
      ['an unknown owner', { owner: 'svc_nobody' }, /^no client svc_nobody$/],
      ['an unknown person', { owner: 'user:nobody' }, /^no user nobody$/],
      [
        'an oversized owner, cut short in the message',
        { owner: `svc_${'x'.repeat(100_000)}` },
        /^no client svc_x{1,200}$/,
      ],
    ];

    it.each(cases)('%s: refused, one line, exit 1, no key', async (_name, change, message) => {
      await expectRefused((d) => runKeysCreate({ ...valid(), ...change }, d), message);
    });

    it('the cap is CLAVIS_API_KEY_MAX_TTL when set, as serve enforces it', async () => {
      await expectRefused(
        (d) => runKeysCreate({ ...valid(), ttl: 2 * 86_400 }, d),
        /^the lifetime exceeds the maximum of 1d$/,
        deps({ env: { CLAVIS_API_KEY_MAX_TTL: '1d' } }),
      );
    });

    it('a malformed CLAVIS_API_KEY_MAX_TTL is an error naming the variable', async () => {
      await expectRefused(
        (d) => runKeysCreate(valid(), d),
        /^CLAVIS_API_KEY_MAX_TTL: /,
        deps({ env: { CLAVIS_API_KEY_MAX_TTL: 'forever' } }),
      );
    });

    it('none of them created a key', async () => {
      const d = deps();
      await runKeysList({ ...target, owner, all: true, json: true }, d);
      expect(JSON.parse(d.stdout.text)).toEqual([]);
    });
  });

  describe('runUsersCreate', () => {
    it('json, password on stdin, TOTP: the clock dates the person; only the TOTP secret is shown', async () => {
      const d = deps({ stdin: 'correct horse battery staple\n', clock: () => FIXED_NOW });
      await runUsersCreate(
        { ...target, username: 'bob', passwordStdin: true, totp: true, scope: [], json: true },
        d,
      );
      const body = JSON.parse(d.stdout.text) as Record<string, unknown>;
      expect(body).toMatchObject({
        id: expect.stringMatching(/^usr_/),
        username: 'bob',
        has_totp: true,
        is_admin: false,
        created_at: new Date(FIXED_NOW).toISOString(),
        totp_secret: expect.stringMatching(/^[A-Z2-7]+=*$/),
        totp_uri: expect.stringMatching(/^otpauth:\/\/totp\//),
      });
      expect(body).not.toHaveProperty('password');
      expect(d.stdout.text).not.toContain('correct horse');
      expect(d.stderr.text).toBe('Give the TOTP secret to bob now: it is shown only this once.\n');
    });

    it('text, generated password: "field value" lines, the password once, a warning on stderr', async () => {
      const d = deps();
      await runUsersCreate({ ...target, username: 'carol', admin: true, scope: ['read'] }, d);
      const out = lines(d.stdout.text);
      expect(out).toContain(`${'username'.padEnd(14)} carol`);
      expect(out).toContain(`${'is_admin'.padEnd(14)} true`);
      expect(out.at(-1)).toMatch(/^password {7}\S{16,}$/);
      expect(d.stderr.text).toBe('Give the password to carol now: it is shown only this once.\n');
    });

    it.each([
      ['a username with a space', { username: 'bad name' }, '', /^username must be/],
      ['an oversized username', { username: 'x'.repeat(100_000) }, '', /^username must be/],
      ['a username that reads as an id', { username: 'usr_abc' }, '', /usr_/],
      ['an empty stdin', { passwordStdin: true }, '', /^--password-stdin: no password on stdin$/],
      ['a password over 1024 characters', { passwordStdin: true }, 'x'.repeat(5000), /too long/],
      ['a short password', { passwordStdin: true }, 'short\n', /at least/],
    ])('%s: refused, one line, exit 1', async (_name, change, stdin, message) => {
      await expectRefused(
        (d) => runUsersCreate({ ...target, username: 'dave', scope: [], ...change }, d),
        message,
        deps({ stdin }),
      );
    });

    it('none of the refusals created a person', async () => {
      const d = deps();
      await runUsersList({ ...target, json: true }, d);
      const names = (JSON.parse(d.stdout.text) as Array<{ username: string }>).map((u) => u.username);
      expect(names.sort()).toEqual(['bob', 'carol']);
    });
  });

  describe('runAuditVerify', () => {
    beforeAll(async () => {
      await createConfidential('audited');
    });

    it('an intact log: the counts, and that no anchor was checked', async () => {
      const d = deps();
      await runAuditVerify({ ...target }, d);
      const out = lines(d.stdout.text);
      expect(out).toHaveLength(2);
      expect(out[0]).toMatch(
        /^audit log intact: \d+ records? in \d+ segments?, \d+ seals? \(0 not yet sealed\)$/,
      );
      expect(out[1]).toMatch(/^no anchor file: /);
    });

    it('json: the result as one document', async () => {
      const d = deps({ clock: () => Date.now() + 3_600_000 });
      await runAuditVerify({ ...target, json: true }, d);
      expect(JSON.parse(d.stdout.text)).toMatchObject({ ok: true, unsealed: 0, stale_unsealed: 0 });
    });

    it('a record changed behind its back: a CliError naming the record, nothing on stdout', async () => {
      const { segment, seq } = await deps().openAdmin(target, async ({ services }) => {
        const row = await services.db
          .selectFrom('audit_events')
          .select(['segment', 'seq', 'detail'])
          .where('event', '=', 'client.create')
          .where('detail', 'like', '%audited%')
          .executeTakeFirstOrThrow();
        await services.db
          .updateTable('audit_events')
          .set({ detail: row.detail.replace('audited', 'audite_') })
          .where('segment', '=', row.segment)
          .where('seq', '=', row.seq)
          .execute();
        return row;
      });
      await expectRefused(
        (d) => runAuditVerify({ ...target }, d),
        new RegExp(`^audit log broken at ${segment}:${seq}: content does not match its hash$`),
      );
    });
  });
});
