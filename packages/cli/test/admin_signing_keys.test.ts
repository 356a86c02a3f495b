/**
 * `clavis admin signing-keys list|rotate [--now]` against a running server on each dialect: after a
 * rotation the server signs with the new key at its next key refresh, the old key stays in the JWKS
 * (its tokens still verify) until the longest token lifetime has passed; with `--now` it leaves at once
 * and its tokens stop verifying. Every rotation is audited; one with no key to replace is refused.
 */
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AdminError, type RunningServer, startServer } from '@clavis/server';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../test/support/dialects.js';
import { basic, INTROSPECTION_PATH, postForm, TOKEN_PATH } from '../../../test/support/oauth.js';
import { runClientsCreate } from '../src/commands/admin/clients_run.js';
import type { AdminRunDeps } from '../src/commands/admin/context.js';
import { adminOpener } from '../src/commands/admin/session.js';
import { runSigningKeysList, runSigningKeysRotate } from '../src/commands/admin/signing_keys_run.js';
import type { Env } from '../src/io.js';
import { runCli, TextSink } from './support/cli.js';

type Deps = AdminRunDeps & { stdout: TextSink; stderr: TextSink };

interface KeyView {
  kid: string;
  alg: string;
  status: string;
  activates_at: string;
  retires_at: string;
  expires_at: string;
}

describe.each(dialects)('admin signing-keys (%s)', (dialect) => {
  let database: TestDatabase;
  let server: RunningServer;
  let env: Env;
  const deps = (): Deps => ({
    stdout: new TextSink(),
    stderr: new TextSink(),
    stdin: Readable.from(['']),
    env,
    stopSignal: new Promise<string>(() => {}),
    clock: Date.now,
    openAdmin: adminOpener(env, Date.now),
  });
  const target = () => ({ db: database.url });

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    env = { CLAVIS_KEK_FILE: join(database.dir, 'kek') };
    server = await startServer({
      dbUrl: database.url,
      port: 0,
      host: '127.0.0.1',
      kekFile: env.CLAVIS_KEK_FILE,
      adminPassword: 'a long admin password 1',
      logger: pino({ level: 'silent' }),
    });
  });
  afterAll(async () => {
    await server?.close();
    await database.drop();
  });

  const kidOf = (jwt: string) =>
    (JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;
  const jwksKids = async () =>
    (
      (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }
    ).keys.map((k) => k.kid);
  const list = async (): Promise<KeyView[]> => {
    const d = deps();
    await runSigningKeysList({ ...target(), json: true }, d);
    return JSON.parse(d.stdout.text) as KeyView[];
  };

  it('rotate, then rotate --now: new keys sign, old ones linger for their tokens, then go at once', async () => {
    const made = deps();
    await runClientsCreate(
      {
        ...target(),
        name: 'svc',
        kind: 'confidential',
        grant: [],
        scope: ['read'],
        audience: [],
        json: true,
      },
      made,
    );
    const { client_id, client_secret } = JSON.parse(made.stdout.text) as {
      client_id: string;
      client_secret: string;
    };
    const auth = { authorization: basic(client_id, client_secret) };
    const token = async () => {
      const res = await postForm(server.url, TOKEN_PATH, 'grant_type=client_credentials&scope=read', auth);
      expect(res.status).toBe(200);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const active = async (t: string) =>
      (
        (await (await postForm(server.url, INTROSPECTION_PATH, { token: t }, auth)).json()) as {
          active: boolean;
        }
      ).active;

    const before = await list();
    expect(before.map((k) => k.status)).toEqual(['signing', 'next']);
    const [signing, next] = before as [KeyView, KeyView];
    const first = await token();
    expect(kidOf(first)).toBe(signing.kid);

    // Text listing: a header and one line per key.
    const text = deps();
    await runSigningKeysList(target(), text);
    expect(text.stdout.text.split('\n')[0]).toMatch(/^KID +ALG +STATUS +SIGNS FROM +UNTIL +IN JWKS UNTIL$/);
    expect(text.stdout.text).toMatch(
      new RegExp(`^${signing.kid} +EdDSA +signing +\\S+Z +\\S+Z +\\S+Z$`, 'm'),
    );

    const t0 = Date.now();
    const rotated = deps();
    await runSigningKeysRotate({ ...target(), json: true }, rotated);
    const result = JSON.parse(rotated.stdout.text) as {
      withdraw_now: boolean;
      withdrawn: Array<{ kid: string; withdrawn_at: string }>;
      created: KeyView[];
    };
    expect(result.withdraw_now).toBe(false);
    expect(result.created.map((k) => k.status)).toEqual(['signing', 'next']);
    const [newSigning, newNext] = result.created as [KeyView, KeyView];
    // The successors keep the schedule: the new signing key until the old one's period ends.
    expect(newSigning.retires_at).toBe(signing.retires_at);
    expect(newNext.activates_at).toBe(next.activates_at);
    // The old signing key lingers for the longest token lifetime (1h) and the clock skew (5 min); the
    // next key, which signed nothing, goes at once.
    const lingering = result.withdrawn.find((w) => w.kid === signing.kid);
    const tail = Date.parse(lingering?.withdrawn_at ?? '') - t0;
    expect(tail).toBeGreaterThanOrEqual(65 * 60_000 - 1000);
    expect(tail).toBeLessThanOrEqual(65 * 60_000 + 60_000);
    expect(
      Date.parse(result.withdrawn.find((w) => w.kid === next.kid)?.withdrawn_at ?? ''),
    ).toBeLessThanOrEqual(Date.now());

    // The server's next key refresh (a minute in serve) takes it up.
    await server.services.keys.refresh();
    const second = await token();
    expect(kidOf(second)).toBe(newSigning.kid);
    expect(new Set(await jwksKids())).toEqual(new Set([signing.kid, newSigning.kid, newNext.kid]));
    expect(await active(first)).toBe(true);
    expect((await list()).map((k) => [k.kid, k.status])).toEqual([
      [signing.kid, 'published'],
      [newSigning.kid, 'signing'],
      [newNext.kid, 'next'],
    ]);

    // --now: every old key leaves the JWKS at once; the tokens they signed stop verifying.
    const now = deps();
    await runSigningKeysRotate({ ...target(), now: true }, now);
    expect(now.stdout.text).toContain(
      `withdrawn ${signing.kid} (EdDSA): out of the JWKS now; tokens it signed no longer verify`,
    );
    expect(now.stdout.text).toMatch(/^new key \S+ \(EdDSA\) signs from now until /m);
    await server.services.keys.refresh();
    const kids = await jwksKids();
    expect(kids).toHaveLength(2);
    for (const old of [signing.kid, newSigning.kid, newNext.kid]) expect(kids).not.toContain(old);
    expect(await active(first)).toBe(false);
    expect(await active(second)).toBe(false);
    expect(await active(await token())).toBe(true);

    // Both rotations are in the audit log, with what they withdrew.
    const audit = await runCli(
      ['admin', '--db', database.url, 'audit', 'list', '--event', 'signing_key.replace', '--json'],
      { env },
    );
    const records = JSON.parse(audit.stdout) as Array<{
      outcome: string;
      detail: { withdraw_now: boolean; withdrawn: Array<{ kid: string }> };
    }>;
    expect(records.map((r) => [r.outcome, r.detail.withdraw_now])).toEqual([
      ['success', true],
      ['success', false],
    ]);
    expect(records[1]?.detail.withdrawn.map((w) => w.kid).sort()).toEqual([signing.kid, next.kid].sort());
  });

  it('with no key signing, a rotation is refused and recorded as refused', async () => {
    await server.close();
    await deps().openAdmin(target(), ({ services }) => services.db.deleteFrom('signing_keys').execute());
    const d = deps();
    const err = await runSigningKeysRotate(target(), d).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AdminError);
    expect((err as AdminError).message).toMatch(/^no signing key signs now: nothing to replace/);
    expect(d.stdout.text).toBe('');
    const empty = deps();
    await runSigningKeysList(target(), empty);
    expect(empty.stdout.text).toBe('no signing keys yet (serve creates them on its first start)\n');
    const audit = await runCli(
      [
        'admin',
        '--db',
        database.url,
        'audit',
        'list',
        '--event',
        'signing_key.replace',
        '--json',
        '--limit',
        '1',
      ],
      { env },
    );
    expect((JSON.parse(audit.stdout) as Array<{ outcome: string }>)[0]?.outcome).toBe('failure');
  });
});
