/**
 * Proven under faults: `kill -9` of a real `clavis serve` under load, on SQLite and on two PostgreSQL
 * instances sharing one database. After the restart: the killed writer's unsealed tail is sealed by the
 * survivor (so deleting it is detected by `audit verify`), the audit log verifies, every token a client
 * received has its `token.issue` record (compared by `jti`), and a use-limited API key's use count equals
 * its `token.issue` records (no use without its token; never more than its limit); no device code was
 * redeemed twice. Then SIGTERM under load ends within the deadline, exit 0.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { TokenType } from '@clavis/core';
import { openDatabase } from '@clavis/server';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { decideInStorage, subjectKeyOf } from '../../../../test/support/device_decision.js';
import {
  createTestDatabase,
  dialects,
  PG_BASE_URL,
  type TestDatabase,
} from '../../../../test/support/dialects.js';
import { freePort } from '../../../../test/support/free_port.js';
import { jtiOf } from '../../../../test/support/jwt.js';
import { basic } from '../../../../test/support/oauth.js';
import { childEnv, runCli, startCli, withSqlite } from '../support/cli.js';

type Started = ReturnType<typeof startCli>;

async function ready(server: Started, base: string, withinMs = 30_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  let exited = false;
  void server.exited.then(() => {
    exited = true;
  });
  for (;;) {
    if (exited) throw new Error(`clavis serve exited early:\n${server.out.stderr}`);
    if (Date.now() > deadline) throw new Error(`clavis serve never became ready:\n${server.out.stderr}`);
    const status = await fetch(`${base}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await delay(50);
  }
}

/** Rows of one query, on the test database (SQLite file or PostgreSQL schema). */
async function rows<T>(database: TestDatabase, text: string): Promise<T[]> {
  if (database.dialect === 'sqlite') {
    return withSqlite(database.url.slice('sqlite:'.length), (db) => db.prepare(text).all() as T[]);
  }
  const schema = new URL(database.url).searchParams.get('schema');
  const client = new pg.Client({ connectionString: PG_BASE_URL, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

interface Load {
  received: Set<string>;
  keyTokens: number;
  statuses: Map<number, number>;
  socketErrors: number;
  stop(): Promise<void>;
}

/** Workers that alternate client-credentials and API-key exchanges over the live instances. */
function startLoad(targets: () => string[], auth: string, apiKey: string, workers: number): Load {
  const load: Load = {
    received: new Set(),
    keyTokens: 0,
    statuses: new Map(),
    socketErrors: 0,
    stop: async () => {},
  };
  let running = true;
  const worker = async (w: number) => {
    for (let i = 0; running; i++) {
      const bases = targets();
      const base = bases[(w + i) % bases.length] as string;
      const viaKey = i % 2 === 1;
      const body = viaKey
        ? new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            subject_token: apiKey,
            subject_token_type: TokenType.ApiKey,
          })
        : new URLSearchParams({ grant_type: 'client_credentials' });
      try {
        const res = await fetch(`${base}/oauth/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            ...(viaKey ? {} : { authorization: auth }),
          },
          body,
        });
        const json = (await res.json()) as { access_token?: string };
        load.statuses.set(res.status, (load.statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200 && json.access_token) {
          load.received.add(jtiOf(json.access_token));
          if (viaKey) load.keyTokens++;
        }
      } catch {
        load.socketErrors++;
        await delay(20);
      }
    }
  };
  const all = Array.from({ length: workers }, (_, w) => worker(w));
  load.stop = async () => {
    running = false;
    await Promise.all(all);
  };
  return load;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

interface DeviceLoad {
  /** 200s per device code. */
  redeemed: Map<string, number>;
  received: Set<string>;
  stop(): Promise<void>;
}

/**
 * The device flow under load: device codes are requested and approved (in storage, as the pages do) one
 * after another, and two pollers redeem every approved code over and over on the live instances.
 */
function startDeviceLoad(
  targets: () => string[],
  approve: (userCode: string) => Promise<unknown>,
): DeviceLoad {
  const load: DeviceLoad = { redeemed: new Map(), received: new Set(), stop: async () => {} };
  const codes: string[] = [];
  let running = true;
  const pick = (i: number) => {
    const bases = targets();
    return bases[i % bases.length] as string;
  };
  const requester = async () => {
    for (let i = 0; running; i++) {
      try {
        const res = await fetch(`${pick(i)}/oauth/device_authorization`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: 'clavis-cli', scope: 'openid' }),
        });
        const json = (await res.json()) as { device_code?: string; user_code?: string };
        if (json.device_code && json.user_code) {
          await approve(json.user_code);
          codes.push(json.device_code);
          load.redeemed.set(json.device_code, 0);
        }
      } catch {
        // The instance is down: try the next one.
      }
      await delay(40);
    }
  };
  const poller = async (p: number) => {
    for (let i = p; running; i++) {
      const code = codes[i % Math.max(codes.length, 1)];
      if (!code) {
        await delay(20);
        continue;
      }
      try {
        const res = await fetch(`${pick(i)}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: code, client_id: 'clavis-cli' }),
        });
        const json = (await res.json()) as { access_token?: string };
        if (res.status === 200 && json.access_token) {
          load.redeemed.set(code, (load.redeemed.get(code) ?? 0) + 1);
          load.received.add(jtiOf(json.access_token));
        }
      } catch {
        await delay(20);
      }
    }
  };
  const all = [requester(), poller(0), poller(1)];
  load.stop = async () => {
    running = false;
    await Promise.all(all);
  };
  return load;
}

describe.each(dialects)('kill -9 under load (%s)', (dialect) => {
  const servers: Started[] = [];
  let database: TestDatabase | undefined;
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL');
        await s.exited;
      }
    }
    await database?.drop();
    database = undefined;
  });

  it('restart: tail sealed, audit verifies, every token recorded, key uses exact, no device code twice; SIGTERM in time', async () => {
    database = await createTestDatabase(dialect);
    const dir = database.dir;
    const env = (name: string) =>
      childEnv({
        CLAVIS_KEK: randomBytesKek,
        CLAVIS_AUDIT_KEY: join(dir, 'audit.key'),
        CLAVIS_AUDIT_ANCHOR: join(dir, `anchor-${name}`),
        CLAVIS_ADMIN_PASSWORD: 'fault-test-admin-password',
        CLAVIS_LOG_LEVEL: 'warn',
        CLAVIS_SHUTDOWN_TIMEOUT: '10s',
      });
    const randomBytesKek = randomBytes(32).toString('base64url');
    const names = dialect === 'postgres' ? ['a', 'b'] : ['a'];
    const ports = await Promise.all(names.map(() => freePort()));
    const bases = ports.map((p) => `http://127.0.0.1:${p}`);
    const serve = (i: number) => {
      const s = startCli(
        ['serve', '--db', database?.url ?? '', '--port', String(ports[i])],
        env(names[i] ?? ''),
      );
      servers.push(s);
      return s;
    };
    const live = names.map((_, i) => serve(i));
    await Promise.all(live.map((s, i) => ready(s, bases[i] ?? '')));

    const admin = (...args: string[]) =>
      runCli(['admin', '--db', database?.url ?? '', ...args], { env: env('a') });
    const created = await admin(
      'clients',
      'create',
      '--name',
      'load',
      '--kind',
      'confidential',
      '--scope',
      'read',
      '--json',
    );
    expect(created.code, created.stderr).toBe(0);
    const client = JSON.parse(created.stdout) as { client_id: string; client_secret: string };
    const MAX_USES = 80;
    const keyRes = await admin(
      'keys',
      'create',
      '--owner',
      client.client_id,
      '--scope',
      'read',
      '--ttl',
      '1h',
      '--max-uses',
      String(MAX_USES),
      '--json',
    );
    expect(keyRes.code, keyRes.stderr).toBe(0);
    const key = JSON.parse(keyRes.stdout) as { id: string; key: string };

    const person = await admin('users', 'create', 'device-person', '--json');
    expect(person.code, person.stderr).toBe(0);
    const userId = (JSON.parse(person.stdout) as { id: string }).id;
    const deciding = await openDatabase(database.url, { migrate: false });

    let targets = bases;
    const load = startLoad(() => targets, basic(client.client_id, client.client_secret), key.key, 12);
    const devices = startDeviceLoad(
      () => targets,
      (userCode) =>
        decideInStorage(deciding.db, {
          userCode,
          subjectKey: subjectKeyOf(randomBytesKek),
          userId,
          approve: true,
          now: Date.now(),
        }),
    );
    await delay(800);
    const victim = live[0] as Started;
    const victimPid = victim.child.pid;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const restarted = serve(0);
    await ready(restarted, bases[0] ?? '');
    await delay(500);
    await load.stop();
    await devices.stop();
    await deciding.close();

    // The killed writer's segment: its lease lapses, and a live serve seals its head.
    const [segment] = await rows<{ id: string }>(
      database,
      `select id from audit_segments where writer like 'serve@%:${victimPid}'`,
    );
    expect(segment).toBeDefined();
    const headOf = async () => {
      const [head] = await rows<{ seq: number | null }>(
        database as TestDatabase,
        `select max(seq) as seq from audit_events where segment = '${segment?.id}'`,
      );
      const [sealed] = await rows<{ seq: number | null }>(
        database as TestDatabase,
        `select max(segment_seq) as seq from audit_seals where segment = '${segment?.id}'`,
      );
      return { head: Number(head?.seq), sealed: Number(sealed?.seq ?? 0) };
    };
    const sealDeadline = Date.now() + 30_000;
    let seal = await headOf();
    while (seal.sealed !== seal.head && Date.now() < sealDeadline) {
      await delay(250);
      seal = await headOf();
    }
    expect(seal.sealed).toBe(seal.head);

    // Every token a client received has its record; the key was used as often as it says.
    const issued = await rows<{ detail: string }>(
      database,
      `select detail from audit_events where event = 'token.issue'`,
    );
    const recorded = new Set<string>();
    let keyRecords = 0;
    for (const { detail } of issued) {
      const d = JSON.parse(detail) as { jti?: string; api_key_id?: string };
      if (d.jti) recorded.add(d.jti);
      if (d.api_key_id === key.id) keyRecords++;
    }
    const missing = [...load.received, ...devices.received].filter((jti) => !recorded.has(jti));
    expect(missing).toEqual([]);
    // No device code was redeemed twice: not by a client, and not in the audit log.
    expect([...devices.redeemed.values()].filter((n) => n > 1)).toEqual([]);
    expect([...devices.redeemed.values()].filter((n) => n === 1).length).toBeGreaterThan(0);
    const perRequest = new Map<string, number>();
    for (const { detail } of issued) {
      const d = JSON.parse(detail) as { grant_type?: string; device_request?: string };
      if (d.grant_type === DEVICE_GRANT && d.device_request)
        perRequest.set(d.device_request, (perRequest.get(d.device_request) ?? 0) + 1);
    }
    expect([...perRequest.values()].filter((n) => n > 1)).toEqual([]);
    const [stored] = await rows<{ uses: number }>(
      database,
      `select uses from api_keys where id = '${key.id}'`,
    );
    // Each use has its token's record (the use and the record commit together). A client may not have
    // received every one: answers in flight die with the killed process after their commit.
    expect(Number(stored?.uses)).toBe(keyRecords);
    expect(load.keyTokens).toBeLessThanOrEqual(keyRecords);
    expect(keyRecords).toBeLessThanOrEqual(MAX_USES);
    expect(load.statuses.get(500) ?? 0).toBe(0);
    expect(load.received.size).toBeGreaterThan(0);

    // SIGTERM under load: in flight answered, shutdown within the deadline, exit 0.
    targets = bases;
    const tail = startLoad(() => targets, basic(client.client_id, client.client_secret), key.key, 8);
    await delay(300);
    const running = [restarted, ...live.slice(1)];
    const started = Date.now();
    for (const s of running) s.child.kill('SIGTERM');
    const exits = await Promise.all(running.map((s) => s.exited));
    const shutdownMs = Date.now() - started;
    await tail.stop();
    for (const e of exits) expect(e.code).toBe(0);
    expect(shutdownMs).toBeLessThan(10_000);
    expect(tail.statuses.get(500) ?? 0).toBe(0);
    if (process.env.CLAVIS_FAULTS_REPORT) {
      console.log(
        `${dialect}: device codes ${devices.redeemed.size} (redeemed ${[...devices.redeemed.values()].filter((n) => n === 1).length}), tokens ${load.received.size}, key tokens ${load.keyTokens} (records ${keyRecords}), socket errors ${load.socketErrors}, statuses ${JSON.stringify([...load.statuses])}, shutdown ${shutdownMs} ms`,
      );
    }

    const verified = await admin('audit', 'verify', '--json');
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, stale_unsealed: 0 });

    if (dialect === 'sqlite') {
      // The sealed tail is tamper-evident: deleting its last record is detected.
      withSqlite(database.url.slice('sqlite:'.length), (db) =>
        db
          .prepare('delete from audit_events where segment = ? and seq = ?')
          .run(segment?.id ?? '', seal.head),
      );
      const broken = await admin('audit', 'verify', '--json');
      expect(broken.code).not.toBe(0);
      expect(JSON.parse(broken.stdout)).toMatchObject({ ok: false });
    }
  }, 90_000);
});
