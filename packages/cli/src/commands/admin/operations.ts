/**
 * Every operation the `clavis admin` commands perform, named once (`AdminOperations`), each answering
 * with the JSON view the command prints with `--json` (which is also the admin API's representation).
 * The run functions print from these views and do not care where the work happens: on the database
 * (`--db`, the server's use cases in this process: local_operations.ts) or on a running server over its
 * admin API (`--server`: remote_operations.ts, loaded only then).
 */
import type {
  AuditAnchorContents,
  AuditRecordView,
  AuditVerifyResult,
  adminApiKeys,
  adminClientSecrets,
  adminIdps,
  adminSigningKeys,
  adminUsers,
  adminViews,
  posture,
} from '@clavis/server';
import { CliError } from '../../errors.js';
import { type Env, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';

/** A view as printed: the named fields the text output reads, and the rest as the server gives them. */
export type ClientView = Record<string, unknown> & {
  client_id: string;
  name: string;
  kind: string;
  token_endpoint_auth_method: string;
};
export type FederationView = Record<string, unknown> & {
  id: string;
  client_id: string;
  issuer: string;
  preset: string | null;
  conditions: Array<{ claim: string; pattern: string }>;
};
export type UserView = adminUsers.UserView;
export type SessionView = adminUsers.SessionView;
export type ApiKeyView = adminApiKeys.ApiKeyView;
export type ClientSecretView = adminClientSecrets.ClientSecretView;
export type SigningKeyView = adminSigningKeys.SigningKeyView;
export type IdpView = adminIdps.IdpView;
export type IdpLinkView = adminIdps.LinkView;
export type DeletedIdpView = ReturnType<typeof adminViews.deletedIdpJson>;
export type KekStatusView = ReturnType<typeof adminViews.kekStatusJson>;
export type HashRetirementView = ReturnType<typeof adminViews.hashRetirementJson>;

export interface ClientCreateInput {
  name: string;
  kind: 'public' | 'confidential';
  grants: string[];
  scopes: string[];
  authMethod?: string;
  jwks?: unknown;
  jwksUri?: string;
  owner?: string;
  audiences: string[];
  tokenTtlSeconds?: number;
  secretTtlSeconds?: number;
  requireMfa?: boolean | 'phishing-resistant';
  refreshIdleTtlSeconds?: number;
  refreshAbsoluteTtlSeconds?: number;
}

/** What is given replaces what is stored. */
export interface ClientUpdateInput {
  name?: string;
  owner?: string;
  grants?: string[];
  scopes?: string[];
  audiences?: string[];
  tokenTtlSeconds?: number;
  refreshIdleTtlSeconds?: number;
  refreshAbsoluteTtlSeconds?: number;
  requireMfa?: boolean | 'phishing-resistant';
}

export interface UserCreateInput {
  username: string;
  password?: string;
  totp: boolean;
  isAdmin: boolean;
  scopes?: string[];
}

export interface KeyCreateInput {
  owner: string;
  scopes: string[];
  ttlSeconds: number;
  cidrs?: string[];
  maxUses?: number;
  name?: string;
  rateLimit?: number;
}

export interface KeyUpdateInput {
  cidrs?: string[];
  maxUses?: number;
  rateLimit?: number;
  /** ms since the epoch. */
  expiresAt?: number;
  scopes?: string[];
}

export interface FederationCreateInput {
  clientId: string;
  audience: string;
  conditions: Array<{ claim: string; pattern: string }>;
  issuer?: string;
  jwks?: unknown;
  jwksUri?: string;
  scopes?: string[];
  preset?: string;
  maxTtlSeconds?: number;
  name?: string;
  allowOrgWide?: boolean;
}

export interface FederationUpdateInput {
  audience?: string;
  conditions?: Array<{ claim: string; pattern: string }>;
  jwks?: unknown;
  jwksUri?: string;
  discovery?: boolean;
  scopes?: string[];
  maxTtlSeconds?: number;
  name?: string;
  allowOrgWide?: boolean;
}

/** An identity provider's settings: what is given is set (create) or replaces what is stored (update). */
export type IdpSettingsInput = adminIdps.IdpSettings & { name?: string };

export type IdpCreateInput = adminIdps.CreateIdpInput;

/** Which audit records: all filters optional; times in ms since the epoch. */
export interface AuditFilters {
  event?: string;
  clientId?: string;
  actor?: string;
  outcome?: 'success' | 'failure';
  since?: number;
  until?: number;
}

export interface AuditPageQuery extends AuditFilters {
  limit: number;
  order?: 'newest' | 'oldest';
  /** An opaque cursor an earlier page gave (`next_cursor`). */
  cursor?: string;
}

export interface AuditPageView {
  items: AuditRecordView[];
  /** Set when more records may follow (pass it as `cursor`); null at the end. */
  next_cursor: string | null;
}

export interface AuditVerifyInput {
  /** Anchors read on this machine (with --db only: the server checks its own). */
  anchors?: AuditAnchorContents[];
  maxUnsealedAgeSeconds?: number;
}

export interface ConditionResult {
  name: string;
  pass: boolean;
  detail: string;
}

export interface AdminOperations {
  createClient(input: ClientCreateInput): Promise<ClientView & { client_secret?: string }>;
  listClients(): Promise<ClientView[]>;
  showClient(id: string): Promise<ClientView>;
  updateClient(id: string, input: ClientUpdateInput): Promise<ClientView>;
  deleteClient(id: string): Promise<void>;
  disableClient(id: string): Promise<ClientView>;
  enableClient(id: string): Promise<ClientView>;
  rotateClientSecret(
    id: string,
    input: { graceSeconds: number; secretTtlSeconds?: number },
  ): Promise<{ client_id: string; client_secret: string; previous_secrets_expire_at: string }>;
  listClientSecrets(id: string): Promise<ClientSecretView[]>;
  revokeClientSecret(id: string, secretId: string): Promise<ClientSecretView & { client_id: string }>;

  createUser(
    input: UserCreateInput,
  ): Promise<UserView & { password?: string; totp_secret?: string; totp_uri?: string }>;
  listUsers(): Promise<UserView[]>;
  showUser(user: string): Promise<adminUsers.UserDetail>;
  disableUser(user: string): Promise<UserView & { revoked_families: number }>;
  enableUser(user: string): Promise<UserView>;
  unlockUser(user: string): Promise<UserView>;
  resetMfa(user: string): Promise<UserView>;
  setPassword(user: string, input: { password?: string }): Promise<UserView & { password?: string }>;
  setScopes(user: string, scopes: string[]): Promise<UserView>;
  listSessions(user: string): Promise<SessionView[]>;
  revokeSessions(user: string): Promise<{ user: string; revoked_families: number }>;

  createKey(input: KeyCreateInput): Promise<ApiKeyView & { key: string }>;
  listKeys(input: { owner?: string; all: boolean }): Promise<ApiKeyView[]>;
  showKey(id: string): Promise<ApiKeyView>;
  updateKey(id: string, input: KeyUpdateInput): Promise<ApiKeyView>;
  rotateKey(
    id: string,
    input: { graceSeconds?: number },
  ): Promise<ApiKeyView & { key: string; predecessor: ApiKeyView }>;
  revokeKey(id: string): Promise<ApiKeyView>;

  createFederation(input: FederationCreateInput): Promise<FederationView & { warnings: string[] }>;
  listFederations(): Promise<FederationView[]>;
  showFederation(id: string): Promise<FederationView>;
  updateFederation(
    id: string,
    input: FederationUpdateInput,
  ): Promise<FederationView & { warnings: string[] }>;
  deleteFederation(id: string): Promise<void>;
  disableFederation(id: string): Promise<FederationView>;
  enableFederation(id: string): Promise<FederationView>;
  testFederation(
    id: string,
    token: string,
  ): Promise<{ id: string; pass: boolean; conditions: ConditionResult[] }>;

  auditPage(query: AuditPageQuery): Promise<AuditPageView>;
  /** Every matching record, oldest first, one JSON object per line, handed to `write`; the count. */
  exportAudit(filters: AuditFilters, write: (text: string) => Promise<void>): Promise<number>;
  /** Over the API the server checks its own anchor; `anchored` says how many seals it found unchanged. */
  verifyAudit(input: AuditVerifyInput): Promise<AuditVerifyResult>;

  listSigningKeys(input: { all?: boolean | undefined }): Promise<SigningKeyView[]>;
  rotateSigningKeys(input: { withdrawNow: boolean }): Promise<{
    withdraw_now: boolean;
    withdrawn: Array<{ kid: string; alg: string; withdrawn_at: string }>;
    created: SigningKeyView[];
  }>;

  createIdp(input: IdpCreateInput): Promise<IdpView>;
  listIdps(): Promise<IdpView[]>;
  showIdp(id: string): Promise<IdpView>;
  updateIdp(id: string, input: IdpSettingsInput): Promise<IdpView>;
  deleteIdp(id: string): Promise<DeletedIdpView>;
  /** With `staleDays`, only the people not signed in for that long. */
  listIdpLinks(id: string, staleDays?: number): Promise<IdpLinkView[]>;
  linkIdp(id: string, input: { user: string; subject: string }): Promise<IdpLinkView>;
  unlinkIdp(id: string, subject: string): Promise<{ unlinked: true; revoked_families: number }>;

  /**
   * The posture report over the live state. `assertionAudienceFallback` is what the served setting is
   * taken to be when the database has no record of it (with --db only: a server knows its own).
   */
  postureReport(
    policy: posture.PosturePolicy,
    options: { assertionAudienceFallback?: posture.AssertionAudienceMode | undefined },
  ): Promise<posture.PostureJson>;

  kekStatus(): Promise<KekStatusView>;
  retireHashes(input: {
    version: number;
    revokeRemaining?: boolean | undefined;
  }): Promise<HashRetirementView>;
}

/**
 * The server an admin command works on, or undefined for a database: `--server`, unless `--db` is given;
 * without either flag, `CLAVIS_DB` wins over `CLAVIS_SERVER` (which the person-facing commands read too).
 */
export function adminServer(env: Env, target: AdminTarget): string | undefined {
  if (target.db !== undefined && target.server !== undefined)
    throw new CliError('give --db or --server, not both');
  if (target.server !== undefined) return target.server;
  if (target.db !== undefined || env.CLAVIS_DB) return undefined;
  return env.CLAVIS_SERVER || undefined;
}

/** Refuses a command that needs the database file or the KEK on this machine when aimed at a server. */
export function refuseRemote(command: string, env: Env, target: AdminTarget): void {
  if (adminServer(env, target) !== undefined) {
    throw new CliError(
      `admin ${command} is local-only: it needs the database (and the key-encryption key) on this machine; use --db`,
    );
  }
}

export type OperationsDeps = Pick<AdminRunDeps, 'env' | 'stdin' | 'stderr' | 'openAdmin'>;

/**
 * Runs `fn` with the operations on the target: a server over HTTP, else the database's services, opened
 * for the duration of `fn` and closed after (which seals this invocation's audit segment).
 */
export async function withAdmin<T>(
  target: AdminTarget,
  deps: OperationsDeps,
  fn: (ops: AdminOperations) => Promise<T>,
): Promise<T> {
  const server = adminServer(deps.env, target);
  if (server !== undefined) {
    const { withRemoteOperations } = await import('./remote_operations.js');
    return withRemoteOperations(server, deps, fn);
  }
  if (target.db === undefined && deps.env.CLAVIS_DB && deps.env.CLAVIS_SERVER) {
    // Both set in one shell (a quick start, then a remote example) would otherwise go quietly to the file.
    writeLine(
      deps.stderr,
      'clavis: CLAVIS_DB and CLAVIS_SERVER are both set: working on the database; --server (or unset CLAVIS_DB) for the server',
    );
  }
  const { localOperations } = await import('./local_operations.js');
  return deps.openAdmin(target, async (ctx) => fn(localOperations(ctx, deps.env)));
}
