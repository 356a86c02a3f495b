/**
 * `createClient`: the right credential for whoever is acting, by context. `getToken()` tries, in
 * order, and the token says which answered (`source`):
 *
 * 1. `CLAVIS_TOKEN`, used as-is (it overrides everything, as `GH_TOKEN` does for gh);
 * 2. a token this client already holds, while it is not about to expire;
 * 3. `CLAVIS_API_KEY` or `CLAVIS_API_KEY_COMMAND`, exchanged (RFC 8693) for a short-lived token;
 * 4. `CLAVIS_CLIENT_ID` + `CLAVIS_PRIVATE_KEY(_FILE)`: client credentials with `private_key_jwt`;
 * 5. a person's stored login (refreshed under an inter-process lock when near expiry) — refused in CI
 *    (`personal_token_in_ci`) unless `CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI=1`;
 * 6. in CI or a Kubernetes pod, the platform's OIDC token exchanged (RFC 8693) through a federation;
 * 7. at an interactive terminal, the device flow (`login`);
 * 8. otherwise `no_credentials`, naming the ways to provide one. It never waits on a prompt.
 *
 * @example
 * ```ts
 * const client = createClient({ issuer: 'https://clavis.example.com', clientId: 'clavis-cli' });
 * const res = await client.fetch('https://api.example.com/invoices');
 * ```
 */
import { spawn } from 'node:child_process';
import { GrantType, InvalidGrant, type TokenResponse } from '@clavis/core';
import type { JWTPayload } from 'jose';
import { type DetectedContext, detectContext } from './context.js';
import { abortableSleep, type DeviceCode, runDeviceFlow, type Sleep } from './device_flow.js';
import { discover, normaliseIssuer, type ServerMetadata } from './discovery.js';
import { ClavisError } from './errors.js';
import { defaultHttpOptions, type HttpOptions, postForm, request, tokenResponse } from './http.js';
import { usernameOf, verifyIdToken } from './id_token.js';
import { fromApiKey } from './providers/api_key.js';
import { fromFederation } from './providers/federation.js';
import { fromPrivateKey } from './providers/private_key.js';
import type { CredentialProvider, ProviderDeps } from './providers/provider.js';
import type { Keychain } from './store/keychain.js';
import { withFileLock } from './store/lock.js';
import { type FoundLogin, LoginStore, type StoredLogin } from './store/login_store.js';
import { needsRenewal, principalOf, type Token, tokenFromEnv } from './token.js';
import { sdkUserAgent } from './user_agent.js';
import { bearerError } from './www_authenticate.js';

type Env = Record<string, string | undefined>;

/**
 * What {@link createClient} takes; only `issuer` and `clientId` are required.
 *
 * @example
 * ```ts
 * const options: ClientOptions = { issuer, clientId: 'clavis-cli', scopes: ['invoices:read'] };
 * ```
 */
export interface ClientOptions {
  /** The Clavis server (its issuer URL). */
  issuer: string;
  /** The client a person logs in with (e.g. `clavis-cli`); workloads name theirs in `CLAVIS_CLIENT_ID`. */
  clientId: string;
  /** The scopes to ask for (default: what the server grants without asking). */
  scopes?: string[];
  /** The audience of CI workload tokens (default: `CLAVIS_AUDIENCE`, else the issuer). */
  audience?: string;
  /** The environment read for credentials and context (default: `process.env`). */
  env?: Env;
  /** Where a login is kept (default: the OS keychain, else an announced 0600 file). */
  store?: LoginStore;
  /** The keychain for the default store; `null` for none. */
  keychain?: Keychain | null;
  /** Where notices go, such as the file fallback (default: stderr). */
  warn?: (line: string) => void;
  /** The context (default: detected from `env` and the terminal). */
  context?: DetectedContext;
  /** How `getToken` shows a device code when it logs in by itself (default: on stderr via `warn`). */
  onCode?: (code: DeviceCode) => void | Promise<void>;
  fetch?: typeof globalThis.fetch;
  /** Per request (default 10 s). */
  timeoutMs?: number;
  /** The largest response body read (default 256 KiB). */
  maxResponseBytes?: number;
  /** `CLAVIS_API_KEY_COMMAND` and `buildkite-agent` time limit (default 10 s). */
  credentialProcessTimeoutMs?: number;
  /** The GitLab CI variable with the ID token (default `CLAVIS_ID_TOKEN`). */
  gitlabIdTokenVariable?: string;
  /** The refresh lock: stale after `staleMs` (default 30 s), give up after `timeoutMs` (default 20 s). */
  lock?: { staleMs?: number; timeoutMs?: number };
  now?: () => number;
  sleep?: Sleep;
}

/** What {@link ClavisClient.login} takes. */
export interface LoginOptions {
  /** Shows the code: print it, draw a QR code. Required: a login without it could not be approved. */
  onCode: (code: DeviceCode) => void | Promise<void>;
  /** Open `verificationUriComplete` in a browser: `true` for the system's opener, or your own. */
  openBrowser?: boolean | ((url: string) => void | Promise<void>);
  signal?: AbortSignal;
}

/** What {@link ClavisClient.whoami} says. */
export type WhoAmI = Omit<Token, 'accessToken'>;

/** `whoami --json` as DESIGN.md pins it: snake_case, `expires_at` an ISO time (or `null`). */
export interface WhoAmIJson {
  sub: string | null;
  username?: string;
  client_id?: string;
  scopes: string[];
  expires_at: string | null;
  source: Token['source'];
  store: Token['store'];
}

/**
 * What `clavis whoami --json` prints for a {@link WhoAmI}: `username` for a person, `client_id` for a
 * service.
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(whoamiJson(await client.whoami())));
 * ```
 */
export function whoamiJson(who: WhoAmI): WhoAmIJson {
  const person = who.source === 'login' || who.principal.username !== undefined;
  return {
    sub: who.principal.sub ?? null,
    ...(person && who.principal.username ? { username: who.principal.username } : {}),
    ...(!person && who.principal.clientId ? { client_id: who.principal.clientId } : {}),
    scopes: who.scopes,
    expires_at: who.expiresAt === null ? null : new Date(who.expiresAt).toISOString(),
    source: who.source,
    store: who.store,
  };
}

/**
 * The client {@link createClient} returns.
 *
 * @example
 * ```ts
 * const who = await client.whoami();
 * console.log(who.principal.username ?? who.principal.sub, who.source, who.store);
 * ```
 */
export interface ClavisClient {
  readonly issuer: string;
  readonly clientId: string;
  /** The context the client detected (or was given). */
  readonly context: DetectedContext;
  /**
   * A valid access token from the credential the context calls for. At a terminal with nothing else
   * it starts the device flow, unless `login: false`.
   */
  getToken(options?: { signal?: AbortSignal; login?: boolean }): Promise<Token>;
  /** A person's login by the device flow; stores it and returns its token. */
  login(options: LoginOptions): Promise<Token>;
  /** Revokes the stored login's refresh token and forgets the login. */
  logout(): Promise<{ revoked: boolean; removed: boolean }>;
  /** Who the current credential acts as; never starts a login. */
  whoami(): Promise<WhoAmI>;
  /**
   * `fetch` with the bearer token; one retry after a new token on 401; RFC 6750 errors thrown typed.
   * The retry sends `init.body` again, so give a body that can be read twice (a string, bytes, a form),
   * not a stream.
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
}

const personalTokenInCi = (vendor: string): ClavisError =>
  new ClavisError(
    'personal_token_in_ci',
    `a person's stored login was found in CI (${vendor}): it is not used there, so that copying a CLI and ` +
      "its config into a pipeline cannot carry a person's identity into it. Use a federation, " +
      'CLAVIS_CLIENT_ID + CLAVIS_PRIVATE_KEY_FILE or CLAVIS_API_KEY; or set ' +
      'CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI=1 if this is really meant',
  );

function noCredentials(context: DetectedContext): ClavisError {
  const notes: string[] = [];
  if (context.ci === 'jenkins') {
    notes.push(
      'Jenkins has no standard OIDC token to federate: use a private key or an API key from its credentials',
    );
  } else if (context.ci === 'ci') {
    notes.push('this CI system is not one whose OIDC token the SDK can ask for');
  }
  return new ClavisError(
    'no_credentials',
    [
      'no credentials: run `clavis login` at a terminal, or set CLAVIS_CLIENT_ID + CLAVIS_PRIVATE_KEY_FILE ' +
        '(a service), CLAVIS_API_KEY or CLAVIS_API_KEY_COMMAND (an API key), or run in CI or Kubernetes with a ' +
        'federation on the server',
      ...notes,
    ].join('; '),
  );
}

/** The id_token claims kept with a login: who and when, small enough for every OS keychain. */
const KEPT_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'preferred_username', 'name', 'email'];

function keptClaims(claims: JWTPayload): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([name]) => KEPT_CLAIMS.includes(name)));
}

function openWithSystem(url: string): void {
  const [program, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]];
  const child = spawn(program as string, args as string[], { stdio: 'ignore', detached: true, shell: false });
  child.on('error', () => {});
  child.unref();
}

/**
 * Creates a client. Nothing happens on the network until a token is asked for.
 *
 * @example
 * ```ts
 * const client = createClient({ issuer: 'https://clavis.example.com', clientId: 'clavis-cli', scopes: ['invoices:read'] });
 * const { accessToken, source } = await client.getToken();
 * ```
 */
export function createClient(options: ClientOptions): ClavisClient {
  const issuer = normaliseIssuer(options.issuer);
  const clientId = options.clientId;
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  const scopes = options.scopes ?? [];
  const context = options.context ?? detectContext(env);
  const http: HttpOptions = {
    fetch: options.fetch ?? defaultHttpOptions.fetch,
    timeoutMs: options.timeoutMs ?? defaultHttpOptions.timeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? defaultHttpOptions.maxResponseBytes,
  };
  const store = options.store ?? new LoginStore({ env, keychain: options.keychain, warn });

  let metadataPromise: Promise<ServerMetadata> | undefined;
  const metadata = (): Promise<ServerMetadata> => {
    metadataPromise ??= discover(http, issuer).catch((err: unknown) => {
      metadataPromise = undefined;
      throw err;
    });
    return metadataPromise;
  };

  const deps: ProviderDeps = {
    issuer,
    clientId,
    scopes,
    audience: options.audience ?? (env.CLAVIS_AUDIENCE || issuer),
    env,
    http,
    context,
    metadata,
    now,
    credentialProcessTimeoutMs: options.credentialProcessTimeoutMs ?? 10_000,
    gitlabIdTokenVariable: options.gitlabIdTokenVariable ?? 'CLAVIS_ID_TOKEN',
  };

  let held: { token: Token; obtainedAt: number } | undefined;

  const loginToken = ({ login, store: kind }: FoundLogin): Token => ({
    accessToken: login.accessToken,
    expiresAt: login.expiresAt,
    scopes: login.scopes,
    source: 'login',
    principal: {
      sub: login.sub,
      ...(login.username ? { username: login.username } : {}),
      clientId: login.clientId,
    },
    store: kind,
  });

  const ciGuard = (): void => {
    if (context.ci && env.CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI !== '1') throw personalTokenInCi(context.ci);
  };

  /** The stored login's token, refreshed under the lock when near expiry (or when `rejected` is it). */
  async function fromLogin(found: FoundLogin, rejected?: string): Promise<Token> {
    const fresh = (f: FoundLogin) =>
      f.login.accessToken !== rejected && !needsRenewal(f.login, f.login.obtainedAt, now());
    if (fresh(found)) return loginToken(found);
    return withFileLock(
      store.lockPath(issuer, clientId),
      async () => {
        // Another process may have refreshed while this one waited: read again under the lock.
        const current = (await store.load(issuer, clientId)) ?? found;
        if (fresh(current)) return loginToken(current);
        const refreshToken = current.login.refreshToken;
        if (!refreshToken) {
          throw new ClavisError(
            'not_logged_in',
            'the stored login has expired: log in again (`clavis login`)',
          );
        }
        const meta = await metadata();
        let response: TokenResponse;
        try {
          response = tokenResponse(
            await postForm(
              http,
              meta.token_endpoint,
              { grant_type: GrantType.RefreshToken, refresh_token: refreshToken, client_id: clientId },
              // Says CI when it is: the posture report names people whose tokens a CI runner refreshes.
              { headers: { 'user-agent': sdkUserAgent(context) } },
            ),
          );
        } catch (err) {
          if (err instanceof InvalidGrant) {
            await store.remove(current);
            throw new ClavisError(
              'not_logged_in',
              'the stored login is no longer valid (expired or revoked): log in again (`clavis login`)',
              { cause: err },
            );
          }
          // The server is unreachable or unwell: a token not yet expired still serves meanwhile.
          const usable = current.login.accessToken !== rejected && now() < current.login.expiresAt;
          if (usable) return loginToken(current);
          throw err;
        }
        const obtainedAt = now();
        const next: StoredLogin = {
          ...current.login,
          accessToken: response.access_token,
          expiresAt: obtainedAt + response.expires_in * 1000,
          obtainedAt,
          scopes: response.scope ? response.scope.split(' ').filter(Boolean) : current.login.scopes,
          ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
        };
        const kind = await store.save(next, current);
        return loginToken({ login: next, store: kind });
      },
      options.lock ?? {},
    );
  }

  async function resolve(
    signal: AbortSignal | undefined,
    rejected?: string,
    mayLogin = true,
  ): Promise<Token> {
    if (env.CLAVIS_TOKEN) return tokenFromEnv(env.CLAVIS_TOKEN);
    if (held && held.token.accessToken !== rejected && !needsRenewal(held.token, held.obtainedAt, now())) {
      return held.token;
    }
    const remember = (token: Token): Token => {
      held = { token, obtainedAt: now() };
      return token;
    };
    const explicit: CredentialProvider[] = [fromApiKey, fromPrivateKey];
    for (const provider of explicit) {
      const token = await provider(deps);
      if (token) return remember(token);
    }
    const found = await store.load(issuer, clientId);
    if (found) {
      ciGuard();
      return remember(await fromLogin(found, rejected));
    }
    const federated = await fromFederation(deps);
    if (federated) return remember(federated);
    if (mayLogin && context.interactive && !context.ci) {
      const onCode =
        options.onCode ??
        ((code: DeviceCode) =>
          warn(
            `To sign in, open ${code.verificationUriComplete}\nand check that it shows the code ${code.userCode}`,
          ));
      return remember(await login({ onCode, ...(signal ? { signal } : {}) }));
    }
    throw noCredentials(context);
  }

  async function login(loginOptions: LoginOptions): Promise<Token> {
    const meta = await metadata();
    const asked = [...scopes];
    if (meta.scopes_supported?.includes('openid') && !asked.includes('openid')) asked.unshift('openid');
    const response = (await runDeviceFlow(
      { http, metadata: meta, clientId, scopes: asked, now, sleep },
      {
        onCode: async (code) => {
          await loginOptions.onCode(code);
          const open = loginOptions.openBrowser;
          if (typeof open === 'function') await open(code.verificationUriComplete);
          else if (open === true && context.browser) openWithSystem(code.verificationUriComplete);
        },
        ...(loginOptions.signal ? { signal: loginOptions.signal } : {}),
      },
    )) as TokenResponse & { id_token?: unknown };
    const obtainedAt = now();
    let idTokenClaims: JWTPayload | undefined;
    if (typeof response.id_token === 'string') {
      idTokenClaims = await verifyIdToken(http, meta, clientId, response.id_token, obtainedAt);
    }
    const fromAccessToken = principalOf(response.access_token);
    const sub = (idTokenClaims?.sub as string | undefined) ?? fromAccessToken.sub;
    if (!sub) throw new ClavisError('invalid_response', 'the token names no subject');
    let username = idTokenClaims ? usernameOf(idTokenClaims) : undefined;
    if (!username && meta.userinfo_endpoint) username = await userinfoName(meta, response.access_token);
    const stored: StoredLogin = {
      issuer,
      clientId,
      sub,
      ...(username ? { username } : {}),
      accessToken: response.access_token,
      expiresAt: obtainedAt + response.expires_in * 1000,
      obtainedAt,
      scopes: response.scope ? response.scope.split(' ').filter(Boolean) : [],
      ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
      ...(idTokenClaims ? { idTokenClaims: keptClaims(idTokenClaims) } : {}),
    };
    const previous = await store.load(issuer, clientId).catch(() => undefined);
    const kind = await store.save(stored, previous);
    const token = loginToken({ login: stored, store: kind });
    held = { token, obtainedAt };
    return token;
  }

  async function userinfoName(meta: ServerMetadata, accessToken: string): Promise<string | undefined> {
    if (!meta.userinfo_endpoint) return undefined;
    try {
      const result = await request(http, meta.userinfo_endpoint, {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      });
      return result.status === 200 && result.json ? usernameOf(result.json) : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    issuer,
    clientId,
    context,
    getToken: (getOptions) => resolve(getOptions?.signal, undefined, getOptions?.login !== false),
    login,
    async logout() {
      held = undefined;
      const found = await store.load(issuer, clientId);
      if (!found) return { revoked: false, removed: false };
      let revoked = false;
      const meta = await metadata().catch(() => undefined);
      if (meta?.revocation_endpoint && found.login.refreshToken) {
        try {
          await postForm(http, meta.revocation_endpoint, {
            token: found.login.refreshToken,
            token_type_hint: 'refresh_token',
            client_id: clientId,
          });
          revoked = true;
        } catch (err) {
          warn(
            `The refresh token could not be revoked (${(err as Error).message}); the login is forgotten here.`,
          );
        }
      }
      await store.remove(found);
      return { revoked, removed: true };
    },
    async whoami() {
      const { accessToken, ...rest } = await resolve(undefined, undefined, false);
      if (rest.source === 'login' && !rest.principal.username) {
        const meta = await metadata().catch(() => undefined);
        const username = meta ? await userinfoName(meta, accessToken) : undefined;
        if (username) rest.principal = { ...rest.principal, username };
      }
      return rest;
    },
    async fetch(input, init = {}) {
      const send = async (token: Token) => {
        const headers = new Headers(init.headers);
        headers.set('authorization', `Bearer ${token.accessToken}`);
        return http.fetch(input, { ...init, headers });
      };
      let token = await resolve(init.signal ?? undefined);
      let response = await send(token);
      if (response.status === 401 && token.source !== 'env') {
        await response.body?.cancel();
        token = await resolve(init.signal ?? undefined, token.accessToken);
        response = await send(token);
      }
      if (response.status === 401 || response.status === 403) {
        const err = bearerError(response.headers.get('www-authenticate'));
        if (err) {
          await response.body?.cancel();
          throw err;
        }
      }
      return response;
    },
  };
}
