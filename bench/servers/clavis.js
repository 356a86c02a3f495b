// Launches Clavis (packages/cli/dist/bin.js) on SQLite or PostgreSQL and builds its OAuth scenarios.
// Everything that depends on the CLI's shape is in CONTRACT, so adapting to CLI changes is one place.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_FEDERATION, CREDENTIAL_SCENARIOS, credentialScenarios } from '../lib/credentials.js';
import { DEVICE_SCENARIOS, deviceScenarios, OUTSTANDING } from '../lib/device.js';
import { generateEd25519 } from '../lib/jwt.js';
import { measure, verify } from '../lib/load.js';
import { basicAuth, discover, OAUTH_SCENARIOS, oauthScenarios } from '../lib/oauth.js';
import { freePort, runNode, spawnNode, waitForHttp } from '../lib/procs.js';

// `outstanding` runs before the other device scenarios: it wants a store without other device codes.
export const SCENARIOS = [...OAUTH_SCENARIOS, ...CREDENTIAL_SCENARIOS, OUTSTANDING, ...DEVICE_SCENARIOS];
// CLAVIS_BENCH_CLI overrides the CLI path (e.g. to test the harness against a stand-in).
export const CLI =
  process.env.CLAVIS_BENCH_CLI ?? fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

export const CONTRACT = {
  serveArgs: ({ db, port, issuer }) => [
    'serve',
    '--db',
    db,
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--issuer',
    issuer,
  ],
  readyPath: '/readyz',
  discoveryPath: '/.well-known/oauth-authorization-server',
  createClientArgs: ({ db, name, authMethod, jwksFile }) => [
    'admin',
    '--db',
    db,
    'clients',
    'create',
    '--name',
    name,
    '--kind',
    'confidential',
    '--grant',
    'client_credentials',
    '--scope',
    'read',
    '--json',
    ...(authMethod === 'private_key_jwt'
      ? ['--auth-method', 'private_key_jwt', '--jwks-file', jwksFile]
      : []),
  ],
  /** The public client of the device scenarios (prints its client_id as JSON). */
  createDeviceClientArgs: ({ db, name }) => [
    'admin',
    '--db',
    db,
    'clients',
    'create',
    '--name',
    name,
    '--kind',
    'public',
    '--grant',
    'device_code',
    '--scope',
    'read',
    '--json',
  ],
  /** An API key owned by `owner` with scope read (prints JSON with `key`). */
  createKeyArgs: ({ db, owner }) => [
    'admin',
    '--db',
    db,
    'keys',
    'create',
    '--owner',
    owner,
    '--scope',
    'read',
    '--ttl',
    '30d',
    '--name',
    'bench',
    '--json',
  ],
  /** A federation trusting the bench CI issuer (inline JWKS) for `clientId` (prints JSON with `id`). */
  createFederationArgs: ({ db, clientId, audience, jwksFile }) => [
    'admin',
    '--db',
    db,
    'federations',
    'create',
    '--client',
    clientId,
    '--issuer',
    BENCH_FEDERATION.issuer,
    '--audience',
    audience,
    '--claim',
    `sub=repo:${BENCH_FEDERATION.repository}:ref:${BENCH_FEDERATION.ref}`,
    '--jwks-file',
    jwksFile,
    '--scope',
    'read',
    '--json',
  ],
  /** Form parameters of a device authorization request, besides client_id. */
  deviceParams: { scope: 'read' },
  /** The private_key_jwt assertion's `aud`. */
  assertionAudience: ({ issuer }) => issuer,
  tokenParams: { scope: 'read' },
  env: { NODE_ENV: 'production' },
  readyTimeoutMs: 30_000,
};

export function isBuilt() {
  return existsSync(CLI);
}

/** Finds the JSON object in the admin command's output (tolerates log lines around it). */
function parseClientJson(stdout) {
  const tryParse = (s) => {
    try {
      return JSON.parse(s);
    } catch {
      return null;
    }
  };
  let json = tryParse(stdout.trim());
  if (!json) {
    const start = stdout.indexOf('{');
    const end = stdout.lastIndexOf('}');
    if (start >= 0 && end > start) json = tryParse(stdout.slice(start, end + 1));
  }
  if (!json) {
    for (const line of stdout.split('\n').reverse()) {
      json = tryParse(line.trim());
      if (json) break;
    }
  }
  const client = json?.client ?? json;
  const clientId = client?.client_id ?? client?.clientId;
  if (!clientId) throw new Error(`no client_id in admin output: ${stdout.slice(0, 400)}`);
  return { clientId, clientSecret: client.client_secret ?? client.clientSecret };
}

/**
 * The environment of the target's processes: the KEK (and so the audit key and, on PostgreSQL, the audit
 * anchor beside it) lives in the target's scratch directory, never in the repository.
 */
let scratchEnv = {};
const targetEnv = () => ({ ...CONTRACT.env, ...scratchEnv });

/** Runs an admin command; returns its stdout. */
async function runAdmin(args) {
  const r = await runNode([CLI, ...args], { cwd: REPO, env: targetEnv() });
  if (r.code !== 0) {
    throw new Error(`clavis ${args.join(' ')} exited ${r.code}\n${(r.stderr || r.stdout).slice(-1500)}`);
  }
  return r.stdout;
}

async function createClient(db, name, extra = {}, argsFor = CONTRACT.createClientArgs) {
  return parseClientJson(await runAdmin(argsFor({ db, name, ...extra })));
}

async function createKey(db, owner) {
  const out = await runAdmin(CONTRACT.createKeyArgs({ db, owner }));
  const key = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)).key;
  if (typeof key !== 'string') throw new Error(`no key in admin output: ${out.slice(0, 400)}`);
  return key;
}

/** PostgreSQL: a throwaway schema selected through the connection's search_path. */
async function pgDatabase() {
  const base = process.env.CLAVIS_BENCH_PG_URL ?? null;
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  let pg;
  try {
    pg = (await import('pg')).default;
  } catch {
    throw new Error('the "pg" module is not resolvable from bench/, cannot create the bench schema');
  }
  const candidates = base
    ? [base]
    : ['postgres://root@127.0.0.1:5432/test', 'postgres://postgres@127.0.0.1:5432/test'];
  let lastErr;
  for (const url of candidates) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.end();
      const u = new URL(url);
      u.searchParams.set('options', `-c search_path=${schema}`);
      // URLSearchParams encodes spaces as '+'; libpq-style parsers expect %20.
      const db = u.toString().replace(/\+/g, '%20');
      const drop = async () => {
        const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
        try {
          await c.connect();
          await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await c.end().catch(() => {});
        }
      };
      return { db, drop, schema };
    } catch (err) {
      lastErr = err;
      await client.end().catch(() => {});
    }
  }
  throw new Error(`PostgreSQL not reachable: ${lastErr?.message}`);
}

/**
 * Starts Clavis with `store` = 'sqlite' | 'postgres'. Returns a target, or throws with a
 * message that explains why the scenarios must be skipped.
 */
export async function launch(store, opts) {
  const name = `clavis-${store}`;
  const cleanups = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'clavis-bench-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    scratchEnv = { CLAVIS_KEK_FILE: join(dir, 'clavis.kek') };
    cleanups.push(async () => {
      scratchEnv = {};
    });

    let db;
    if (store === 'sqlite') {
      db = `sqlite:${join(dir, 'bench.db')}`;
    } else {
      const pgdb = await pgDatabase();
      cleanups.push(pgdb.drop);
      db = pgdb.db;
    }

    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const proc = spawnNode(name, [CLI, ...CONTRACT.serveArgs({ db, port, issuer })], {
      cwd: REPO,
      env: targetEnv(),
    });
    cleanups.push(() => proc.stop());
    await waitForHttp(`${issuer}${CONTRACT.readyPath}`, proc, { timeoutMs: CONTRACT.readyTimeoutMs });

    const meta = await discover(issuer, CONTRACT.discoveryPath);
    const basic = await createClient(db, 'bench');
    if (!basic.clientSecret) throw new Error('admin clients create printed no client_secret');

    const clientKey = generateEd25519('bench-client');
    const jwksFile = join(dir, 'client-jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [clientKey.publicJwk] }));
    const jwtClient = await createClient(db, 'bench-jwt', { authMethod: 'private_key_jwt', jwksFile });

    const target = {
      name,
      issuer,
      tokenEndpoint: meta.token_endpoint,
      introspectionEndpoint: meta.introspection_endpoint,
      jwksUri: meta.jwks_uri,
      basic,
      jwt: {
        clientId: jwtClient.clientId,
        privateKey: clientKey.privateKey,
        kid: clientKey.kid,
        audience: CONTRACT.assertionAudience({ issuer, meta }),
      },
      tokenParams: CONTRACT.tokenParams,
    };
    const notes = [`--db ${db.replace(dir, '$TMP')}`];
    if (!meta.introspection_endpoint) notes.push('discovery has no introspection_endpoint');

    // The device client is created when a device scenario first needs it.
    let deviceClient = null;
    const device = {
      name,
      deviceAuthorizationEndpoint: meta.device_authorization_endpoint,
      tokenEndpoint: meta.token_endpoint,
      params: CONTRACT.deviceParams,
      clientId() {
        deviceClient ??= createClient(db, 'bench-device', {}, CONTRACT.createDeviceClientArgs).then(
          (c) => c.clientId,
        );
        return deviceClient;
      },
    };
    const credentials = {
      name,
      issuer,
      tokenEndpoint: meta.token_endpoint,
      verifyEndpoint: meta.api_key_verification_endpoint,
      basic,
      createKey: () => createKey(db, basic.clientId),
      async createFederation(jwks) {
        const file = join(dir, 'ci-issuer-jwks.json');
        await writeFile(file, JSON.stringify(jwks));
        await runAdmin(
          CONTRACT.createFederationArgs({ db, clientId: basic.clientId, audience: issuer, jwksFile: file }),
        );
      },
    };
    const scenarios = [
      ...oauthScenarios(target, opts),
      ...credentialScenarios(credentials, opts),
      ...deviceScenarios(device, opts, { outstanding: true }),
    ];
    return { name, proc, notes, scenarios, cleanup, db, basic, port };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The scenarios of the two-instance target (both instances on one PostgreSQL database). */
export const PAIR_SCENARIOS = ['cc_basic'];

/**
 * Two `clavis serve` processes on one PostgreSQL schema: `cc_basic` loads both at once, half the
 * connections each, and reports their total requests/s (the latencies are the worse of the two).
 */
export async function launchPair(opts) {
  const first = await launch('postgres', opts);
  const name = 'clavis-postgres-x2';
  try {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const second = spawnNode(`${name}-b`, [CLI, ...CONTRACT.serveArgs({ db: first.db, port, issuer })], {
      cwd: REPO,
      env: targetEnv(),
    });
    try {
      await waitForHttp(`${issuer}${CONTRACT.readyPath}`, second, { timeoutMs: CONTRACT.readyTimeoutMs });
    } catch (err) {
      await second.stop();
      throw err;
    }
    const ccOf = (base) => ({
      method: 'POST',
      url: `${base}/oauth/token`,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(first.basic.clientId, first.basic.clientSecret),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...CONTRACT.tokenParams }).toString(),
    });
    const cc = {
      name: 'cc_basic',
      label: 'client_credentials, client_secret_basic, on two instances at once (total)',
      async run() {
        const reqs = [ccOf(`http://127.0.0.1:${first.port}`), ccOf(issuer)];
        for (const req of reqs) {
          const v = await verify(req, (json) => typeof json.access_token === 'string' || 'no access_token');
          if (!v.ok) return { status: 'failed', detail: `check: ${v.detail}` };
        }
        const half = Math.max(1, Math.floor(opts.connections / 2));
        const [a, b] = await Promise.all(reqs.map((req) => measure(req, { ...opts, connections: half })));
        return {
          status: 'ok',
          notes: [`per instance: ${Math.round(a.rps)} + ${Math.round(b.rps)} req/s`],
          rps: a.rps + b.rps,
          total: a.total + b.total,
          latencyP50: Math.max(a.latencyP50, b.latencyP50),
          latencyP99: Math.max(a.latencyP99, b.latencyP99),
          non2xx: a.non2xx + b.non2xx,
          unexpected: a.unexpected + b.unexpected,
          errors: a.errors + b.errors,
          timeouts: a.timeouts + b.timeouts,
          perInstance: [a.rps, b.rps],
        };
      },
    };
    const proc = {
      exited: () => first.proc.exited() || second.exited(),
      logs: () => `${first.proc.logs()}\n${second.logs()}`,
      stop: async () => {
        await second.stop();
        await first.proc.stop();
      },
    };
    return {
      name,
      proc,
      notes: [...first.notes, `second instance on port ${port}`],
      scenarios: [cc],
      cleanup: first.cleanup,
    };
  } catch (err) {
    await first.proc.stop();
    await first.cleanup();
    throw err;
  }
}
