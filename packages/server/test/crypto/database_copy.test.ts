/**
 * The attacker with a copy of the database and not the key-encryption key: a stolen SQLite file (with
 * its -wal and -shm, byte for byte) or a PostgreSQL dump of every table. A real server is driven
 * through every flow that issues or receives a secret, collecting each value a real person or client
 * holds; then the copy is searched for each of them — as given, in its other encodings, without its
 * prefix, and as an unkeyed digest (which would let a guess be confirmed offline). What must be kept is
 * checked for its form: keyed hashes, scrypt password hashes, AES-GCM sealed blobs that neither open
 * without the KEK nor survive a flipped byte. Last, a server started on the copy with a KEK of its own
 * refuses to start, so no credential can be checked against the copy by running Clavis on it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  adminApiKeys,
  adminClients,
  adminFederations,
  adminIdps,
  adminUsers,
  startServer,
} from '@clavis/server';
import { exportJWK } from 'jose';
import { Secret, TOTP } from 'otpauth';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, PG_BASE_URL } from '../../../../test/support/dialects.js';
import { jwksOf, newClientKey, signAssertion } from '../../../../test/support/jwt.js';
import { basic } from '../../../../test/support/oauth.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';
import { tempDir } from '../../../../test/support/temp_dir.js';
import { CLI_CLIENT_ID } from '../../src/clients/client.js';
import { unseal } from '../../src/crypto/seal.js';
import { UserCodesAtRest, userCodesAtRest } from '../../src/device/user_code_at_rest.js';
import { type FakeIssuer, startFakeIssuer } from '../federation/fake_issuer.js';
import { TestUpstream } from '../sso/upstream.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TYPE = 'urn:clavis:params:oauth:token-type:api_key';
const ADMIN = { type: 'admin' as const, id: 'db-copy-test' };
const KEK_PURPOSES = [
  'secret-hashing',
  'signing-key-sealing',
  'cookie-signing',
  'audit-chain',
  'totp-sealing',
  'idp-sealing',
  'audit-subjects',
  'key-wrapping',
  'idempotency-sealing',
] as const;

/** Every secret a real holder has, by what it is. */
class Secrets {
  readonly all: { kind: string; value: string; publicParts: string[] }[] = [];
  /** `publicParts`: parts of the value that are not secret (a device code's request id). */
  add(kind: string, value: string | undefined | null, publicParts: string[] = []): string {
    expect(value, `${kind} was issued`).toBeTruthy();
    this.all.push({ kind, value: value as string, publicParts });
    return value as string;
  }
}

/** The encodings of `secret` an attacker would search for: each must be absent from the copy. */
function encodings(secret: string, publicParts: readonly string[] = []): Map<string, Buffer> {
  const forms = new Map<string, Buffer>();
  const text = (name: string, s: string) => {
    if (s.length >= 8) forms.set(name, Buffer.from(s, 'utf8'));
  };
  const asBytes = (name: string, bytes: Buffer) => {
    if (bytes.length < 6) return;
    forms.set(`${name} raw bytes`, bytes);
    text(`${name} hex`, bytes.toString('hex'));
    text(`${name} base64`, bytes.toString('base64').replace(/=+$/, ''));
    text(`${name} base64url`, bytes.toString('base64url'));
  };
  const variants = new Map<string, string>([['value', secret]]);
  // The part after a readable prefix (`clvs_…`, a key's body) and each part of a dotted value.
  const prefixed = /^[a-z]{2,8}_(.+)$/.exec(secret);
  if (prefixed?.[1]) variants.set('body after prefix', prefixed[1]);
  const parts = secret.split('.');
  parts.forEach((p, i) => {
    if (parts.length > 1 && p.length >= 16 && !publicParts.includes(p)) variants.set(`part ${i}`, p);
  });
  for (const [name, s] of variants) {
    text(name, s);
    asBytes(`${name} utf8`, Buffer.from(s, 'utf8'));
    if (/^[A-Za-z0-9_-]{16,}$/.test(s)) asBytes(`${name} base64url-decoded`, Buffer.from(s, 'base64url'));
    for (const alg of ['sha256', 'sha512', 'sha1', 'md5']) {
      asBytes(`${alg}(${name})`, createHash(alg).update(s).digest());
    }
  }
  return forms;
}

/** The database as an attacker holds it: every byte, and every row as text. */
interface Copy {
  bytes: Buffer;
  rows: Record<string, Record<string, unknown>[]>;
}

function leaksIn(copy: Copy, secrets: Secrets): string[] {
  const text = Buffer.from(JSON.stringify(copy.rows), 'utf8');
  const found: string[] = [];
  for (const { kind, value, publicParts } of secrets.all) {
    for (const [form, needle] of encodings(value, publicParts)) {
      for (const [where, haystack] of [
        ['file bytes', copy.bytes],
        ['rows', text],
      ] as const) {
        if (haystack.indexOf(needle) >= 0) {
          const table = Object.entries(copy.rows).find(([, rows]) =>
            Buffer.from(JSON.stringify(rows)).includes(needle),
          )?.[0];
          found.push(`${kind}: ${form} in ${where}${table ? ` (table ${table})` : ''}`);
        }
      }
    }
  }
  return [...new Set(found)];
}

/** A browser over real HTTP: one cookie, the last page's CSRF token and the secrets it saw. */
class HttpBrowser {
  cookie: string | undefined;
  csrf: string | undefined;
  constructor(
    readonly base: string,
    readonly secrets: Secrets,
  ) {}

  async #remember(res: Response): Promise<{ status: number; body: string; location: string | null }> {
    const set = res.headers.getSetCookie()[0];
    if (set) {
      this.cookie = set.split(';')[0];
      const value = this.cookie?.slice(this.cookie.indexOf('=') + 1);
      if (value) this.secrets.add('session cookie', value);
    }
    const body = await res.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(body)?.[1];
    if (csrf && csrf !== this.csrf) this.csrf = this.secrets.add('CSRF token', csrf);
    return { status: res.status, body, location: res.headers.get('location') };
  }

  async get(path: string) {
    return this.#remember(
      await fetch(`${this.base}${path}`, {
        redirect: 'manual',
        headers: this.cookie ? { cookie: this.cookie } : {},
      }),
    );
  }

  async post(path: string, fields: Record<string, string>) {
    return this.#remember(
      await fetch(`${this.base}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(this.cookie ? { cookie: this.cookie } : {}),
        },
        body: new URLSearchParams({ ...fields, ...(this.csrf ? { csrf: this.csrf } : {}) }).toString(),
      }),
    );
  }
}

async function postForm(base: string, path: string, fields: Record<string, string>, auth?: string) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(auth ? { authorization: auth } : {}),
    },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Each TOTP step is accepted once per person: a fresh step for each code. */
function totpCode(secret: string, after: number): { code: string; step: number } {
  const step = Math.max(Math.floor(Date.now() / 30_000), after + 1);
  const code = new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: step * 30_000 + 1 });
  return { code, step };
}

describe.each(dialects)('a copy of the database without the KEK (%s)', (dialect) => {
  let server: RealServer;
  let upstream: TestUpstream | undefined;
  let workloadIssuer: FakeIssuer | undefined;
  const secrets = new Secrets();
  let copy: Copy;
  const sqliteCopy = tempDir('clavis-stolen-');

  beforeAll(async () => {
    server = await startRealServer(dialect);
    const { services, config } = server.running;
    const base = server.issuer;
    const adminDeps = { ...server.adminDeps, totpKey: services.totpKey };

    // The server's own keys: the KEK, every key derived from it, the stable keys, the audit signing key.
    const kekFile = join(server.database.dir, 'clavis.kek');
    secrets.add('KEK', readFileSync(kekFile, 'utf8').trim());
    for (const purpose of KEK_PURPOSES) {
      secrets.add(`KEK-derived ${purpose} key`, services.kek.derive(purpose).toString('base64url'));
    }
    secrets.add('secret-hashing key', services.stableKeys.secretHashing.toString('base64url'));
    secrets.add('audit chain HMAC key', services.stableKeys.auditChain.toString('base64url'));
    secrets.add('audit subject key', services.stableKeys.auditSubjects.toString('base64url'));
    if (services.auditSigning) {
      secrets.add('audit signing key (d)', services.auditSigning.privateKey.export({ format: 'jwk' }).d);
    }
    secrets.add('bootstrap admin password', 'interop-test-admin-password');

    // Clients: a secret for each secret auth method, one rotated; their access tokens.
    const basicClient = await server.createClient({
      grants: ['client_credentials'],
      authMethod: 'client_secret_basic',
    });
    const basicSecret = secrets.add('client secret (basic)', basicClient.secret);
    const postClient = await server.createClient({
      grants: ['client_credentials'],
      authMethod: 'client_secret_post',
    });
    const postSecret = secrets.add('client secret (post)', postClient.secret);
    const rotated = await adminClients.rotateClientSecret(
      adminDeps,
      basicClient.client.id,
      { graceSeconds: 600 },
      ADMIN,
    );
    const rotatedSecret = secrets.add('client secret (rotated)', rotated.secret);
    for (const [auth, fields] of [
      [basic(basicClient.client.id, basicSecret), {}],
      [basic(basicClient.client.id, rotatedSecret), {}],
      [undefined, { client_id: postClient.client.id, client_secret: postSecret }],
    ] as const) {
      const res = await postForm(
        base,
        '/oauth/token',
        { grant_type: 'client_credentials', scope: 'read', ...fields },
        auth,
      );
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      secrets.add('access token (client credentials)', res.json.access_token as string);
    }

    // A private_key_jwt client: its private key never leaves it; its assertion is a one-use credential.
    const clientKey = await newClientKey('ES256');
    const jwtClient = await server.createClient({
      grants: ['client_credentials'],
      authMethod: 'private_key_jwt',
      jwks: jwksOf(clientKey),
    });
    secrets.add('client private key (private_key_jwt, d)', (await exportJWK(clientKey.privateKey)).d);
    const iat = Math.floor(Date.now() / 1000);
    const assertion = secrets.add(
      'client assertion',
      await signAssertion(clientKey, {
        iss: jwtClient.client.id,
        sub: jwtClient.client.id,
        aud: base,
        iat,
        exp: iat + 60,
        jti: randomUUID(),
      }),
    );
    const asserted = await postForm(base, '/oauth/token', {
      grant_type: 'client_credentials',
      scope: 'read',
      client_id: jwtClient.client.id,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    expect(asserted.status, JSON.stringify(asserted.json)).toBe(200);
    secrets.add('access token (private_key_jwt)', asserted.json.access_token as string);

    // API keys: created, rotated, verified and exchanged for an access token.
    const keyDeps = {
      db: services.db,
      audit: services.audit,
      hasher: services.hasher,
      clock: config.clock,
      apiKeyMaxTtlSeconds: config.apiKeyMaxTtlSeconds,
    };
    const created = await adminApiKeys.createApiKey(
      keyDeps,
      { owner: postClient.client.id, scopes: ['read'], ttlSeconds: 3600 },
      ADMIN,
    );
    const firstKey = secrets.add('API key (created)', created.plaintext);
    const rotatedKey = await adminApiKeys.rotateApiKey(keyDeps, created.key.id, { graceSeconds: 600 }, ADMIN);
    const secondKey = secrets.add('API key (rotated)', rotatedKey.plaintext);
    for (const key of [firstKey, secondKey]) {
      const verified = await postForm(
        base,
        '/oauth/api-keys/verify',
        { key },
        basic(basicClient.client.id, rotatedSecret),
      );
      expect(verified.json.active, JSON.stringify(verified.json)).toBe(true);
    }
    const exchanged = await postForm(
      base,
      '/oauth/token',
      { grant_type: TOKEN_EXCHANGE, subject_token: secondKey, subject_token_type: API_KEY_TYPE },
      basic(postClient.client.id, postSecret),
    );
    if (exchanged.status === 200)
      secrets.add('access token (API key exchange)', exchanged.json.access_token as string);

    // A CI job's workload token exchanged through a federation (the issuer serves its JWKS on loopback).
    workloadIssuer = await startFakeIssuer();
    const deployer = await server.createClient({
      grants: ['client_credentials', 'token-exchange'],
      scopes: ['read', 'deploy'],
    });
    await adminFederations.createFederation(
      {
        db: services.db,
        audit: services.audit,
        clock: config.clock,
        maxAccessTokenTtlSeconds: config.maxAccessTokenTtlSeconds,
      },
      {
        clientId: deployer.client.id,
        preset: 'github-actions',
        issuer: workloadIssuer.issuer,
        audience: base,
        conditions: [{ claim: 'repository', pattern: 'acme/app' }],
        scopes: ['read', 'deploy'],
      },
      ADMIN,
    );
    const workload = secrets.add(
      'workload token (CI job)',
      await workloadIssuer.mint(workloadIssuer.github(Date.now(), { aud: base })),
    );
    const federated = await postForm(base, '/oauth/token', {
      grant_type: TOKEN_EXCHANGE,
      subject_token: workload,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    });
    expect(federated.status, JSON.stringify(federated.json)).toBe(200);
    secrets.add('access token (federated)', federated.json.access_token as string);

    // An upstream identity provider's client secret.
    const idpSecret = secrets.add('IdP client secret', `upstream-${randomBytes(24).toString('base64url')}`);
    await adminIdps.createIdp(
      { db: services.db, audit: services.audit, clock: config.clock, idpSealKey: services.idpKeys.seal },
      { name: 'Corp SSO', issuer: 'https://sso.example.test', clientId: 'clavis', clientSecret: idpSecret },
      ADMIN,
    );

    // Person A, an administrator with a password and TOTP: the device flow through the pages over HTTP.
    const password = secrets.add('password (person A)', `pw-${randomBytes(18).toString('base64url')}`);
    const personA = await adminUsers.createUser(
      adminDeps,
      { username: 'alice', password, totp: true, isAdmin: true },
      ADMIN,
    );
    const totpA = secrets.add('TOTP seed (person A)', personA.totpSecret);
    const auth = await postForm(base, '/oauth/device_authorization', {
      client_id: CLI_CLIENT_ID,
      scope: 'openid admin',
    });
    expect(auth.status, JSON.stringify(auth.json)).toBe(200);
    const deviceCode = secrets.add('device code', auth.json.device_code as string, [
      String(auth.json.device_code).split('.')[0] ?? '',
    ]);
    const userCode = secrets.add('user code', auth.json.user_code as string);
    secrets.add('user code (as stored)', userCode.replace('-', ''));
    const browserA = new HttpBrowser(base, secrets);
    await browserA.get(`/device?user_code=${encodeURIComponent(userCode)}`);
    const entered = await browserA.post('/device', { user_code: userCode });
    expect(entered.status, entered.body).toBe(303);
    await browserA.get('/device/login');
    const signedIn = await browserA.post('/device/login', { username: 'alice', password });
    expect(signedIn.status, signedIn.body).toBe(303);
    await browserA.get('/device/mfa');
    const mfa = await browserA.post('/device/mfa', { code: totpCode(totpA, 0).code });
    expect(mfa.status, mfa.body).toBe(303);
    const consent = await browserA.get('/device/consent');
    expect(consent.status, consent.body).toBe(200);
    const request = /name="request" value="([^"]+)"/.exec(consent.body)?.[1] ?? '';
    const approved = await browserA.post('/device/consent', { request, action: 'approve' });
    expect(approved.status, approved.body).toBe(303);
    const tokens = await postForm(base, '/oauth/token', {
      grant_type: DEVICE_GRANT,
      device_code: deviceCode,
      client_id: CLI_CLIENT_ID,
    });
    expect(tokens.status, JSON.stringify(tokens.json)).toBe(200);
    const adminToken = secrets.add('access token (device flow, admin)', tokens.json.access_token as string);
    secrets.add('ID token', tokens.json.id_token as string);
    const firstRefresh = secrets.add('refresh token', tokens.json.refresh_token as string);
    const refreshed = await postForm(base, '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: firstRefresh,
      client_id: CLI_CLIENT_ID,
    });
    expect(refreshed.status, JSON.stringify(refreshed.json)).toBe(200);
    secrets.add('access token (refreshed)', refreshed.json.access_token as string);
    secrets.add('refresh token (rotated)', refreshed.json.refresh_token as string);
    if (refreshed.json.id_token) secrets.add('ID token (refreshed)', refreshed.json.id_token as string);

    // The admin API with that token: idempotent creations whose answers carry a one-time secret.
    const adminCall = async (path: string, body: unknown) => {
      const res = await fetch(`${base}/admin/v1${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${adminToken}`,
          'content-type': 'application/json',
          'idempotency-key': randomBytes(12).toString('hex'),
        },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      expect(res.status, text).toBe(201);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const apiClient = await adminCall('/clients', {
      name: 'made over the admin API',
      kind: 'confidential',
      grants: ['client_credentials'],
      scopes: ['read'],
    });
    for (const value of Object.values(JSON.stringify(apiClient).match(/clvs_[A-Za-z0-9_-]+/g) ?? [])) {
      secrets.add('client secret (admin API answer)', value);
    }
    expect(secrets.all.some((s) => s.kind === 'client secret (admin API answer)')).toBe(true);
    const apiKey = await adminCall('/keys', {
      owner: postClient.client.id,
      scopes: ['read'],
      ttl_seconds: 600,
    });
    secrets.add('API key (admin API answer)', (apiKey.key ?? apiKey.api_key ?? apiKey.plaintext) as string);

    // A person created over the admin API with a password the administrator chose, and the request
    // that carried it: not even an unkeyed digest of that request may be stored (it would let a guess
    // at the password be confirmed at hash speed).
    const passwordD = secrets.add(
      'password (person D, admin API)',
      `pw-${randomBytes(18).toString('base64url')}`,
    );
    const createdD = await adminCall('/users', { username: 'dave', password: passwordD, totp: true });
    secrets.add('TOTP seed (person D, admin API answer)', createdD.totp_secret as string);
    secrets.add(
      'admin API request carrying a password',
      JSON.stringify(['POST', '/admin/v1/users', { password: passwordD, totp: true, username: 'dave' }]),
    );

    // Person B, a password and no second factor, signs in for a client that requires one: enrolment
    // through the pages shows a TOTP seed and then ten recovery codes.
    const passwordB = secrets.add('password (person B)', `pw-${randomBytes(18).toString('base64url')}`);
    await adminUsers.createUser(adminDeps, { username: 'bob', password: passwordB }, ADMIN);
    const mfaClient = await server.createClient({
      kind: 'public',
      authMethod: 'none',
      grants: ['device_code', 'refresh_token'],
      requireMfa: true,
    });
    const authB = await postForm(base, '/oauth/device_authorization', {
      client_id: mfaClient.client.id,
      scope: 'read',
    });
    expect(authB.status, JSON.stringify(authB.json)).toBe(200);
    const deviceCodeB = secrets.add('device code (B)', authB.json.device_code as string, [
      String(authB.json.device_code).split('.')[0] ?? '',
    ]);
    secrets.add('user code (B)', authB.json.user_code as string);
    secrets.add('user code (B, as stored)', String(authB.json.user_code).replace('-', ''));
    const browserB = new HttpBrowser(base, secrets);
    await browserB.get('/device');
    expect((await browserB.post('/device', { user_code: authB.json.user_code as string })).status).toBe(303);
    await browserB.get('/device/login');
    expect((await browserB.post('/device/login', { username: 'bob', password: passwordB })).status).toBe(303);
    const setup = await browserB.get('/device/mfa/setup');
    expect(setup.status, setup.body).toBe(200);
    const enrolment = /name="enrolment" value="([^"]+)"/.exec(setup.body)?.[1] ?? '';
    const seedB = secrets.add('TOTP seed (person B, enrolled in the pages)', enrolment.split('.')[0]);
    const enrolled = await browserB.post('/device/mfa/setup', { enrolment, code: totpCode(seedB, 0).code });
    expect(enrolled.status, enrolled.body).toBe(200);
    const codes = [...enrolled.body.matchAll(/<li>([a-z0-9]{5}-[a-z0-9]{5})<\/li>/g)].map((m) => m[1]);
    expect(codes).toHaveLength(10);
    for (const code of codes) {
      secrets.add('recovery code', code);
      secrets.add('recovery code (as typed)', code?.replace('-', ''));
    }
    await browserB.post('/device/recovery-codes', { saved: 'yes' });
    const consentB = await browserB.get('/device/consent');
    const requestB = /name="request" value="([^"]+)"/.exec(consentB.body)?.[1] ?? '';
    expect((await browserB.post('/device/consent', { request: requestB, action: 'approve' })).status).toBe(
      303,
    );
    const tokensB = await postForm(base, '/oauth/token', {
      grant_type: DEVICE_GRANT,
      device_code: deviceCodeB,
      client_id: mfaClient.client.id,
    });
    expect(tokensB.status, JSON.stringify(tokensB.json)).toBe(200);
    secrets.add('access token (B)', tokensB.json.access_token as string);
    secrets.add('refresh token (B)', tokensB.json.refresh_token as string);

    // Person C signs in through an upstream provider (a real OIDC provider on loopback); a second
    // sign-in is left at the provider, so its row is still stored when the database is taken.
    upstream = await TestUpstream.start(`${base}/device/sso/callback`);
    upstream.accounts.set('carol-1', { sub: 'carol-1', preferred_username: 'carol' });
    upstream.next = { sub: 'carol-1' };
    secrets.add('IdP client secret (real provider)', upstream.clientSecret);
    const loopbackIdp = await adminIdps.createIdp(
      { db: services.db, audit: services.audit, clock: config.clock, idpSealKey: services.idpKeys.seal },
      {
        name: 'Loopback SSO',
        issuer: upstream.issuer,
        clientId: upstream.clientId,
        clientSecret: upstream.clientSecret,
        scopes: ['profile'],
      },
      ADMIN,
    );
    const ssoStart = async (browser: HttpBrowser): Promise<string> => {
      const auth = await postForm(base, '/oauth/device_authorization', { client_id: CLI_CLIENT_ID });
      expect(auth.status, JSON.stringify(auth.json)).toBe(200);
      await browser.get('/device');
      expect((await browser.post('/device', { user_code: auth.json.user_code as string })).status).toBe(303);
      const login = await browser.get('/device/login');
      const starts = [...login.body.matchAll(/href="(\/device\/sso\/start\?[^"]+)"/g)].map((m) =>
        (m[1] ?? '').replaceAll('&amp;', '&'),
      );
      expect(starts.length, login.body).toBeGreaterThan(0);
      for (const start of starts) {
        // The other provider (sso.example.test) is unreachable here: its link answers 502.
        if (!start.includes(loopbackIdp.id)) continue;
        const redirected = await browser.get(start);
        expect(redirected.status, redirected.body).toBe(303);
        const to = new URL(redirected.location ?? '');
        secrets.add('upstream sign-in state', to.searchParams.get('state'));
        return to.href;
      }
      throw new Error('no sign-in link to the loopback provider');
    };
    const browserC = new HttpBrowser(base, secrets);
    const callback = await upstream.authorize(await ssoStart(browserC));
    secrets.add('upstream authorization code', callback.searchParams.get('code'));
    const back = await browserC.get(`${callback.pathname}${callback.search}`);
    expect(back.status, back.body).toBe(303);
    // Signed in (clavis-cli asks for a second factor next, which carol has yet to enrol).
    expect(back.location).toBe('/device/mfa/setup');
    expect((await browserC.get('/device/mfa/setup')).status).toBe(200);
    const pendingSso = new HttpBrowser(base, secrets);
    await ssoStart(pendingSso);

    // The signing keys' private halves (JWK `d`), for every key the server holds.
    for (const info of await services.keys.list({ all: true })) {
      const key = services.keys.byKid(info.kid);
      if (key) secrets.add(`signing key ${info.alg} (d)`, key.privateKey.export({ format: 'jwk' }).d);
    }

    // The theft, after the flows, while the server runs.
    if (dialect === 'sqlite') {
      const file = new URL(server.database.url.replace(/^sqlite:/, 'file:')).pathname;
      const parts: Buffer[] = [];
      for (const suffix of ['', '-wal', '-shm']) {
        if (!existsSync(file + suffix)) continue;
        copyFileSync(file + suffix, join(sqliteCopy.path, `clavis.db${suffix}`));
        parts.push(readFileSync(file + suffix));
      }
      const stolen = new DatabaseSync(join(sqliteCopy.path, 'clavis.db'), { readOnly: true });
      const rows: Copy['rows'] = {};
      const tables = stolen.prepare(`select name from sqlite_master where type = 'table'`).all() as {
        name: string;
      }[];
      for (const { name } of tables) {
        rows[name] = stolen.prepare(`select * from "${name}"`).all() as Record<string, unknown>[];
      }
      stolen.close();
      copy = { bytes: Buffer.concat(parts), rows };
    } else {
      const schema = new URL(server.database.url).searchParams.get('schema') ?? '';
      const client = new pg.Client({ connectionString: PG_BASE_URL });
      await client.connect();
      try {
        const tables = await client.query<{ table_name: string }>(
          'select table_name from information_schema.tables where table_schema = $1',
          [schema],
        );
        const rows: Copy['rows'] = {};
        for (const { table_name } of tables.rows) {
          rows[table_name] = (await client.query(`select * from "${schema}"."${table_name}"`)).rows;
        }
        copy = { bytes: Buffer.from(JSON.stringify(rows)), rows };
      } finally {
        await client.end();
      }
    }
  }, 120_000);

  afterAll(async () => {
    await upstream?.close();
    await workloadIssuer?.close();
    await server?.close();
    sqliteCopy.remove();
  });

  it('holds none of the secrets, in any encoding, without its prefix, or as an unkeyed digest', () => {
    expect(Object.keys(copy.rows).length).toBeGreaterThan(20);
    expect(secrets.all.length).toBeGreaterThan(40);
    expect(leaksIn(copy, secrets)).toEqual([]);
    // The search finds what is there: a stored hash, and the unkeyed digest of a value planted below.
    const control = new Secrets();
    control.add('stored client-secret hash', String(copy.rows.client_secrets?.[0]?.hash));
    expect(leaksIn(copy, control)).toContain(
      'stored client-secret hash: value in rows (table client_secrets)',
    );
    const planted = randomBytes(24).toString('base64url');
    const withDigest: Copy = {
      bytes: Buffer.concat([copy.bytes, createHash('sha256').update(planted).digest()]),
      rows: { ...copy.rows, planted: [{ hex: createHash('md5').update(planted).digest('hex') }] },
    };
    const plantedSecret = new Secrets();
    plantedSecret.add('planted', planted);
    expect(leaksIn(withDigest, plantedSecret)).toEqual(
      expect.arrayContaining([
        'planted: sha256(value) raw bytes in file bytes',
        'planted: md5(value) hex in rows (table planted)',
      ]),
    );
  });

  it('stores passwords only as scrypt with real parameters', () => {
    const users = copy.rows.users ?? [];
    // People provisioned by single sign-on have no local password.
    const hashes = users.filter((u) => u.password_hash !== null).map((u) => String(u.password_hash));
    expect(hashes.length).toBeGreaterThanOrEqual(3);
    for (const hash of hashes) {
      const [scheme, n, r, p, salt, key] = hash.split('$');
      expect(scheme).toBe('scrypt');
      expect(Number(n)).toBeGreaterThanOrEqual(2 ** 15);
      expect(Number(r)).toBeGreaterThanOrEqual(8);
      expect(Number(p)).toBeGreaterThanOrEqual(1);
      expect(Buffer.from(salt ?? '', 'base64url').length).toBeGreaterThanOrEqual(16);
      expect(Buffer.from(key ?? '', 'base64url').length).toBeGreaterThanOrEqual(32);
    }
  });

  it('keeps other secrets only as keyed 256-bit hashes', () => {
    const hashed: [string, string][] = [
      ['client_secrets', 'hash'],
      ['api_keys', 'key_hash'],
      ['refresh_tokens', 'token_hash'],
      ['device_codes', 'device_code_hash'],
      ['recovery_codes', 'hash'],
    ];
    for (const [table, column] of hashed) {
      const values = (copy.rows[table] ?? []).map((row) => String(row[column]));
      expect(values.length, table).toBeGreaterThan(0);
      for (const v of values) expect(Buffer.from(v.replace(/^v\d+\./, ''), 'base64url')).toHaveLength(32);
    }
  });

  it('seals the private material: it opens with no other key, and a flipped byte is refused', () => {
    const { services } = server.running;
    const sealed: { what: string; value: string; key: Buffer; context: string }[] = [];
    for (const row of copy.rows.signing_keys ?? []) {
      sealed.push({
        what: 'signing key',
        value: String(row.private_key),
        key: services.kek.derive('signing-key-sealing'),
        context: `signing-key:${String(row.kid)}`,
      });
    }
    for (const row of copy.rows.identity_providers ?? []) {
      sealed.push({
        what: 'IdP secret',
        value: String(row.client_secret),
        key: services.idpKeys.seal,
        context: `idp-client-secret:${String(row.id)}`,
      });
    }
    for (const row of copy.rows.users ?? []) {
      if (row.totp_secret !== null) {
        sealed.push({
          what: 'TOTP seed',
          value: String(row.totp_secret),
          key: services.totpKey,
          context: `totp:${String(row.id)}`,
        });
      }
    }
    for (const row of copy.rows.idempotency_keys ?? []) {
      if (row.response !== null) {
        sealed.push({
          what: 'idempotent answer',
          value: String(row.response),
          key: services.kek.derive('idempotency-sealing'),
          context: `idempotency:${String(row.caller)}:${String(row.key)}`,
        });
      }
    }
    expect(sealed.filter((s) => s.what === 'signing key').length).toBeGreaterThan(0);
    expect(sealed.filter((s) => s.what === 'IdP secret')).toHaveLength(2);
    expect(sealed.filter((s) => s.what === 'TOTP seed')).toHaveLength(3);
    expect(sealed.filter((s) => s.what === 'idempotent answer').length).toBeGreaterThanOrEqual(3);
    for (const s of sealed) {
      expect(s.value, s.what).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
      const [version, iv, tag, body] = s.value.split('.') as [string, string, string, string];
      const flipped = Buffer.from(body, 'base64url');
      flipped[0] = (flipped[0] as number) ^ 0x01;
      const tampered = [version, iv, tag, flipped.toString('base64url')].join('.');
      // The server's key opens the stored value (so the check below is on real ciphertext); neither
      // another key nor the server's key on a copy with one flipped bit does.
      expect(() => unseal(s.key, s.value, s.context), s.what).not.toThrow();
      expect(() => unseal(randomBytes(32), s.value, s.context), s.what).toThrow();
      expect(() => unseal(s.key, tampered, s.context), s.what).toThrow();
    }
  });

  it('keeps user codes only under a key: they read back with it, not with another', () => {
    const stored = (copy.rows.device_codes ?? []).map((row) => String(row.user_code));
    expect(stored.length).toBeGreaterThanOrEqual(4);
    const ours = userCodesAtRest(server.running.services.stableKeys.auditSubjects);
    const guessed = new UserCodesAtRest(randomBytes(32));
    for (const value of stored) {
      expect(value).toMatch(/^uc1\.[A-Za-z0-9_-]{22}$/);
      expect(ours.code(value)).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
      expect(guessed.code(value)).toBeUndefined();
    }
  });

  it('cannot be served with a KEK of its own: the server refuses to start on it', async () => {
    const attacker = tempDir('clavis-attacker-');
    try {
      const dbUrl =
        dialect === 'sqlite' ? `sqlite:${join(sqliteCopy.path, 'clavis.db')}` : server.database.url;
      await expect(
        startServer({
          dbUrl,
          port: 0,
          host: '127.0.0.1',
          issuer: 'http://127.0.0.1:1',
          kekFile: join(attacker.path, 'attacker.kek'),
          auditKeyFile: join(attacker.path, 'audit.key'),
          adminPassword: 'attacker-admin-password',
        }),
      ).rejects.toThrow(/this database was set up with a key-encryption key that is not here/);
    } finally {
      attacker.remove();
    }
  });
});
