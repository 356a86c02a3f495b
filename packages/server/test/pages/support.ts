import type { ServerConfig, Services } from '@clavis/server';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import type { TestClock } from '../../../../test/support/clock.js';
import type { TestDatabase, TestDialect } from '../../../../test/support/dialects.js';
import { createTestServer } from '../../../../test/support/test_server.js';
import { PASSWORD, TOTP_SECRET } from '../../../../test/support/users.js';
import { randomId } from '../../src/crypto/secrets.js';
import { insertDeviceCode } from '../../src/device/device_store.js';
import { formatUserCode, generateUserCode } from '../../src/device/user_code.js';
import { userCodesAtRest } from '../../src/device/user_code_at_rest.js';
import { runOp } from '../../src/storage/store_op.js';

export interface PagesServer {
  app: FastifyInstance;
  services: Services;
  config: ServerConfig;
  clock: TestClock;
  database: TestDatabase;
  close(): Promise<void>;
}

export async function createPagesServer(
  dialect: TestDialect,
  options: {
    config?: Partial<Omit<ServerConfig, 'issuer' | 'clock'>>;
    clock?: TestClock;
    database?: TestDatabase;
  } = {},
): Promise<PagesServer> {
  return createTestServer(dialect, options);
}

/** A client row able to use the device grant. */
export async function createDeviceClient(
  server: PagesServer,
  input: { id?: string; name?: string; requireMfa?: boolean } = {},
): Promise<string> {
  const id = input.id ?? randomId('cli_', 8);
  await server.services.db
    .insertInto('clients')
    .values({
      id,
      name: input.name ?? 'Acme CLI',
      owner: null,
      kind: 'public',
      auth_method: 'none',
      grant_types: JSON.stringify(['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token']),
      scopes: JSON.stringify(['read', 'write']),
      audiences: JSON.stringify(['https://api.clavis.test']),
      jwks: null,
      jwks_uri: null,
      token_ttl: 600,
      created_at: server.clock.now,
      created_by: 'test',
      disabled_at: null,
      require_mfa: input.requireMfa ? 1 : 0,
      refresh_idle_ttl: null,
      refresh_absolute_ttl: null,
    })
    .execute();
  return id;
}

export interface DeviceRequest {
  id: string;
  userCode: string;
  /** As a person sees it: `BCDF-GHJK`. */
  shown: string;
}

/** A pending device request, as POST /oauth/device_authorization stores it. */
export async function createDeviceRequest(
  server: PagesServer,
  clientId: string,
  input: { scopes?: string[]; ip?: string; userAgent?: string } = {},
): Promise<DeviceRequest> {
  const id = randomId('dev_', 12);
  const userCode = generateUserCode();
  await runOp(
    server.services.db,
    insertDeviceCode({
      id,
      device_code_hash: randomId('h_', 16),
      user_code: userCodesAtRest(server.services.stableKeys.auditSubjects).stored(userCode),
      client_id: clientId,
      scopes: JSON.stringify(input.scopes ?? ['read']),
      status: 'pending',
      interval: 5,
      last_polled_at: null,
      created_at: server.clock.now,
      expires_at: server.clock.now + server.config.deviceCodeTtlSeconds * 1000,
      requester_ip: input.ip ?? '198.51.100.23',
      requester_user_agent: input.userAgent ?? 'acme-cli/1.2 (linux)',
      claimed_by_session: null,
      user_id: null,
      decided_at: null,
      consumed_at: null,
      family_id: null,
      auth_time: null,
      amr: null,
    }),
  );
  return { id, userCode, shown: formatUserCode(userCode) };
}

export async function deviceCodeRow(server: PagesServer, id: string) {
  return server.services.db
    .selectFrom('device_codes')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

/** The TOTP code for `secret` at the test clock's time (plus `offsetSteps` × 30 s). */
export function totpCode(server: PagesServer, secret = TOTP_SECRET, offsetSteps = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret) }).generate({
    timestamp: server.clock.now + offsetSteps * 30_000,
  });
}

/** One browser: keeps the session cookie and the last page's CSRF token. */
export class Browser {
  cookie: string | undefined;
  csrf: string | undefined;

  constructor(
    readonly server: Pick<PagesServer, 'app'>,
    readonly ip = '203.0.113.10',
    readonly userAgent = 'Mozilla/5.0 (test browser)',
  ) {}

  #remember(res: LightMyRequestResponse): LightMyRequestResponse {
    const set = res.headers['set-cookie'];
    const first = Array.isArray(set) ? set[0] : set;
    if (first) this.cookie = first.split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(res.body)?.[1];
    if (csrf) this.csrf = csrf;
    return res;
  }

  #headers(): Record<string, string> {
    return { 'user-agent': this.userAgent, ...(this.cookie ? { cookie: this.cookie } : {}) };
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    return this.#remember(
      await this.server.app.inject({ method: 'GET', url, headers: this.#headers(), remoteAddress: this.ip }),
    );
  }

  /** POSTs a form; the CSRF token of the last page is added unless `csrf` is given (null: none). */
  async post(
    url: string,
    fields: Record<string, string>,
    csrf?: string | null,
  ): Promise<LightMyRequestResponse> {
    const token = csrf === undefined ? this.csrf : csrf;
    const body = new URLSearchParams({ ...fields, ...(token ? { csrf: token } : {}) }).toString();
    return this.#remember(
      await this.server.app.inject({
        method: 'POST',
        url,
        headers: { ...this.#headers(), 'content-type': 'application/x-www-form-urlencoded' },
        payload: body,
        remoteAddress: this.ip,
      }),
    );
  }

  /** GET /device, then POST the code. */
  async enterCode(code: string): Promise<LightMyRequestResponse> {
    await this.get('/device');
    return this.post('/device', { user_code: code });
  }

  /** GET /device/login, then POST the credentials. */
  async signIn(username: string, password = PASSWORD): Promise<LightMyRequestResponse> {
    await this.get('/device/login');
    return this.post('/device/login', { username, password });
  }

  /** The consent page's hidden request id. */
  static requestOf(res: LightMyRequestResponse): string | undefined {
    return /name="request" value="([^"]+)"/.exec(res.body)?.[1];
  }
}
