/**
 * The admin operations on a running server (`--server URL`): its admin API (`/admin/v1`) over HTTP with
 * the token of the administrator signed in there (`clavis login --server URL --scope admin`), through the
 * SDK. The API answers with the views the commands print, so the output is the same as with `--db`.
 * Creates carry an `Idempotency-Key`; updates read the resource first and send its `ETag` as `If-Match`.
 */
import { randomUUID } from 'node:crypto';
import { CliError, exitCodes } from '../../errors.js';
import { cliClient, cliFailure } from '../account/client.js';
import { resolveServer } from '../account/server.js';
import type {
  AdminOperations,
  AuditFilters,
  AuditPageView,
  ClientSecretView,
  ClientView,
  FederationView,
  IdpLinkView,
  IdpView,
  OperationsDeps,
  SessionView,
  UserView,
} from './operations.js';

/** A list is fetched whole, in pages of this many. */
const PAGE = 1000;
/** One request's time limit; an export streams without one. */
const REQUEST_TIMEOUT_MS = 60_000;

type Query = Record<string, string | number | boolean | undefined>;
type Body = Record<string, unknown>;

interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
}

/** The sign-in that gives an administrator's token for `server`. */
const loginHint = (server: string): string => `clavis login --server ${server} --scope admin`;

function slugOf(problem: Problem): string {
  return typeof problem.type === 'string' ? problem.type.replace(/^urn:clavis:problem:/, '') : '';
}

/** A refused call as the one line the CLI prints, and its exit code. */
function refusal(server: string, status: number, problem: Problem): CliError {
  const slug = slugOf(problem);
  if (status === 401) {
    return new CliError(
      `${server} no longer accepts this login (expired or revoked): run \`${loginHint(server)}\` again`,
      exitCodes.auth,
    );
  }
  if (slug === 'reauthentication-required') {
    return new CliError(
      `this change needs a recent sign-in (within 15 minutes): run \`${loginHint(server)}\` again`,
      exitCodes.auth,
    );
  }
  if (status === 403) {
    return new CliError(
      `the account signed in to ${server} is not an administrator there (or its token lacks the admin scope: run \`${loginHint(server)}\`)`,
      exitCodes.auth,
    );
  }
  const detail = typeof problem.detail === 'string' && problem.detail ? problem.detail : problem.title;
  const line = (detail ?? `${server} answered HTTP ${status}`).replace(/[\r\n]+/g, ' ').slice(0, 500);
  return new CliError(line, exitCodes.error);
}

function networkFailure(server: string, err: unknown): CliError {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return new CliError(`${server} did not answer in time`);
  const reason = e.cause?.code ?? e.cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new CliError(`cannot reach ${server} (${reason})`);
}

/** An ISO-8601 time for a query or body. */
const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

/** An operation's input as a request body: its names in snake_case (the API's), members as they are. */
function snake(input: object): Body {
  return Object.fromEntries(
    Object.entries(input).map(([name, value]) => [
      name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      value,
    ]),
  );
}

/** `body` without its undefined members. */
function defined(body: Body): Body {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

function auditQuery(filters: AuditFilters): Query {
  return {
    since: iso(filters.since),
    until: iso(filters.until),
    event: filters.event,
    client_id: filters.clientId,
    actor: filters.actor,
    outcome: filters.outcome,
  };
}

/** The HTTP side: one bearer token for the whole command, problems turned into the CLI's one line. */
class AdminApi {
  constructor(
    readonly server: string,
    private readonly token: string,
  ) {}

  url(path: string, query: Query = {}): string {
    const url = new URL(`${this.server}/admin/v1${path}`);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url.href;
  }

  async send(
    method: string,
    path: string,
    options: { query?: Query; body?: Body; headers?: Record<string, string>; timeout?: boolean } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      accept: 'application/json, application/problem+json',
      'user-agent': 'clavis-cli',
      ...options.headers,
    };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.url(path, options.query), {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(defined(options.body)) } : {}),
        ...(options.timeout === false ? {} : { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
        redirect: 'error',
      });
    } catch (err) {
      throw networkFailure(this.server, err);
    }
    if (response.ok) return response;
    let problem: Problem = {};
    try {
      problem = (await response.json()) as Problem;
    } catch {
      // not a problem document: the status says it
    }
    throw refusal(this.server, response.status, problem ?? {});
  }

  async json<T>(
    method: string,
    path: string,
    options: { query?: Query; body?: Body; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const response = await this.send(method, path, options);
    if (response.status === 204) return undefined as T;
    try {
      return (await response.json()) as T;
    } catch (err) {
      if ((err as { name?: string }).name === 'SyntaxError')
        throw new CliError(`${this.server} answered ${path} with something that is not JSON`);
      throw networkFailure(this.server, err);
    }
  }

  get = <T>(path: string, query?: Query): Promise<T> => this.json<T>('GET', path, query ? { query } : {});
  post = <T>(path: string, body: Body = {}): Promise<T> => this.json<T>('POST', path, { body });

  /** A create: the same key if this invocation's request were sent again. */
  create = <T>(path: string, body: Body): Promise<T> =>
    this.json<T>('POST', path, { body, headers: { 'idempotency-key': randomUUID() } });

  /** An update of the resource as last read: its ETag as If-Match, so a change meanwhile is refused. */
  async patch<T>(path: string, body: Body): Promise<T> {
    const current = await this.send('GET', path);
    const etag = current.headers.get('etag');
    await current.body?.cancel();
    return this.json<T>('PATCH', path, { body, headers: etag ? { 'if-match': etag } : {} });
  }

  /** Every item of a list, page after page. */
  async all<T>(path: string, query: Query = {}): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.get<{ items: T[]; next_cursor: string | null }>(path, {
        ...query,
        limit: PAGE,
        cursor,
      });
      items.push(...page.items);
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    return items;
  }
}

const seg = (id: string): string => encodeURIComponent(id);

function operations(api: AdminApi): AdminOperations {
  return {
    createClient: (input) => api.create('/clients', snake(input)),
    listClients: () => api.all<ClientView>('/clients'),
    showClient: (id) => api.get(`/clients/${seg(id)}`),
    updateClient: (id, input) => api.patch(`/clients/${seg(id)}`, snake(input)),
    deleteClient: async (id) => {
      await api.json('DELETE', `/clients/${seg(id)}`);
    },
    disableClient: (id) => api.post(`/clients/${seg(id)}/disable`),
    enableClient: (id) => api.post(`/clients/${seg(id)}/enable`),
    rotateClientSecret: (id, input) => api.post(`/clients/${seg(id)}/rotate-secret`, snake(input)),
    listClientSecrets: (id) => api.all<ClientSecretView>(`/clients/${seg(id)}/secrets`),
    revokeClientSecret: (id, secretId) => api.json('DELETE', `/clients/${seg(id)}/secrets/${seg(secretId)}`),

    createUser: (input) => api.create('/users', snake(input)),
    listUsers: () => api.all<UserView>('/users'),
    showUser: (user) => api.get(`/users/${seg(user)}`),
    disableUser: (user) => api.post(`/users/${seg(user)}/disable`),
    enableUser: (user) => api.post(`/users/${seg(user)}/enable`),
    unlockUser: (user) => api.post(`/users/${seg(user)}/unlock`),
    resetMfa: (user) => api.post(`/users/${seg(user)}/reset-mfa`),
    setPassword: (user, input) => api.post(`/users/${seg(user)}/set-password`, { password: input.password }),
    setScopes: (user, scopes) => api.patch(`/users/${seg(user)}`, { scopes }),
    listSessions: (user) => api.all<SessionView>(`/users/${seg(user)}/sessions`),
    revokeSessions: (user) => api.json('DELETE', `/users/${seg(user)}/sessions`),

    createKey: (input) => api.create('/keys', snake(input)),
    listKeys: (input) => api.all('/keys', { owner: input.owner, all: input.all ? true : undefined }),
    showKey: (id) => api.get(`/keys/${seg(id)}`),
    updateKey: (id, { expiresAt, ...input }) =>
      api.patch(`/keys/${seg(id)}`, { ...snake(input), expires_at: iso(expiresAt) }),
    rotateKey: (id, input) => api.post(`/keys/${seg(id)}/rotate`, snake(input)),
    revokeKey: (id) => api.post(`/keys/${seg(id)}/revoke`),

    createFederation: (input) => api.create('/federations', snake(input)),
    listFederations: () => api.all<FederationView>('/federations'),
    showFederation: (id) => api.get(`/federations/${seg(id)}`),
    updateFederation: (id, input) => api.patch(`/federations/${seg(id)}`, snake(input)),
    deleteFederation: async (id) => {
      await api.json('DELETE', `/federations/${seg(id)}`);
    },
    disableFederation: (id) => api.post(`/federations/${seg(id)}/disable`),
    enableFederation: (id) => api.post(`/federations/${seg(id)}/enable`),
    testFederation: (id, token) => api.post(`/federations/${seg(id)}/test`, { token }),

    auditPage: (query) =>
      api.get<AuditPageView>('/audit', {
        ...auditQuery(query),
        limit: query.limit,
        order: query.order,
        cursor: query.cursor,
      }),
    async exportAudit(filters, write) {
      const response = await api.send('GET', '/audit/export', {
        query: auditQuery(filters),
        headers: { accept: 'application/x-ndjson, application/problem+json' },
        timeout: false,
      });
      let count = 0;
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body ?? []) {
          const text = decoder.decode(chunk as Uint8Array, { stream: true });
          for (const c of text) if (c === '\n') count++;
          if (text) await write(text);
        }
      } catch (err) {
        throw networkFailure(api.server, err);
      }
      const rest = decoder.decode();
      if (rest) await write(rest);
      return count;
    },
    verifyAudit: (input) =>
      api.post('/audit/verify', { max_unsealed_age_seconds: input.maxUnsealedAgeSeconds }),

    listSigningKeys: (input) => api.all('/signing-keys', { all: input.all ? true : undefined }),
    rotateSigningKeys: (input) => api.post('/signing-keys/rotate', { now: input.withdrawNow }),

    createIdp: (input) => api.create('/idps', snake(input)),
    listIdps: () => api.all<IdpView>('/idps'),
    showIdp: (id) => api.get(`/idps/${seg(id)}`),
    updateIdp: (id, input) => api.patch(`/idps/${seg(id)}`, snake(input)),
    deleteIdp: (id) => api.json('DELETE', `/idps/${seg(id)}`),
    listIdpLinks: (id, staleDays) =>
      api.all<IdpLinkView>(`/idps/${seg(id)}/links`, { stale_days: staleDays }),
    linkIdp: (id, input) =>
      api.create(`/idps/${seg(id)}/links`, { user: input.user, subject: input.subject }),
    unlinkIdp: (id, subject) => api.json('DELETE', `/idps/${seg(id)}/links/${seg(subject)}`),

    // The server judges by what it serves: the fallback is for a database alone.
    postureReport: (policy) =>
      api.get('/posture', {
        rotation_age_seconds: Math.round(policy.rotationAgeMs / 1000),
        unused_seconds: Math.round(policy.unusedMs / 1000),
        expiry_warning_seconds: Math.round(policy.expiryWarningMs / 1000),
        stale_sign_in_seconds: Math.round(policy.staleSignInMs / 1000),
        window_seconds: Math.round(policy.windowMs / 1000),
      }),

    kekStatus: () => api.get('/kek'),
    retireHashes: (input) =>
      api.post('/kek/retire-hashes', { version: input.version, revoke_remaining: input.revokeRemaining }),
  };
}

/**
 * Runs `fn` with the operations on `server`, as the administrator signed in there. Nothing is started
 * interactively: without a stored login (or another credential the SDK finds) it says how to sign in.
 */
export async function withRemoteOperations<T>(
  given: string,
  deps: OperationsDeps,
  fn: (ops: AdminOperations) => Promise<T>,
): Promise<T> {
  const server = await resolveServer(given, deps.env);
  const client = cliClient(server, deps, ['admin']);
  let token: Awaited<ReturnType<typeof client.getToken>>;
  try {
    token = await client.getToken({ login: false });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'no_credentials' || code === 'not_logged_in') {
      throw new CliError(`not signed in to ${server}: run \`${loginHint(server)}\``, exitCodes.auth);
    }
    throw cliFailure(err);
  }
  if (token.source === 'login' && !token.scopes.includes('admin')) {
    throw new CliError(
      `the login for ${server} lacks the admin scope (only an administrator gets it): run \`${loginHint(server)}\` as an administrator`,
      exitCodes.auth,
    );
  }
  return fn(operations(new AdminApi(server, token.accessToken)));
}
