/**
 * The work of `clavis admin clients create|list|show|update|disable|enable|delete|rotate-secret` and
 * `clients secrets list|revoke`.
 */
import { confirm } from '../../confirm.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { readJwksFile } from './jwks_file.js';
import { type ClientView, type OperationsDeps, withAdmin } from './operations.js';
import { fieldText } from './text_fields.js';

export interface ClientsCreateOptions extends AdminTarget {
  name: string;
  kind: 'public' | 'confidential';
  grant: string[];
  scope: string[];
  authMethod?: string | undefined;
  jwksFile?: string | undefined;
  jwksUri?: string | undefined;
  owner?: string | undefined;
  audience: string[];
  /** Seconds, as are all the durations below. */
  tokenTtl?: number | undefined;
  secretTtl?: number | undefined;
  /** true: any second factor; `phishing-resistant`: a passkey or security key (not TOTP). */
  requireMfa?: boolean | 'phishing-resistant' | undefined;
  refreshIdleTtl?: number | undefined;
  refreshAbsoluteTtl?: number | undefined;
  json?: boolean | undefined;
}

export interface ClientOptions extends AdminTarget {
  id: string;
  json?: boolean | undefined;
}

/** A destructive change: confirmed in a terminal, or by `--yes`. */
export interface ConfirmedClientOptions extends ClientOptions {
  yes?: boolean | undefined;
}

/** What is given replaces what is stored; what is absent stays. */
export interface ClientsUpdateOptions extends ClientOptions {
  name?: string | undefined;
  owner?: string | undefined;
  grant?: string[] | undefined;
  scope?: string[] | undefined;
  audience?: string[] | undefined;
  /** Seconds, as are all the durations below. */
  tokenTtl?: number | undefined;
  refreshIdleTtl?: number | undefined;
  refreshAbsoluteTtl?: number | undefined;
  /** true: any second factor; `phishing-resistant`: a passkey or security key (not TOTP). */
  requireMfa?: boolean | 'phishing-resistant' | undefined;
}

export interface ClientsSecretsRevokeOptions extends ConfirmedClientOptions {
  secretId: string;
}

export interface ClientsListOptions extends AdminTarget {
  json?: boolean | undefined;
}

export interface ClientsRotateSecretOptions extends ClientOptions {
  /** Seconds the previous secrets stay valid (default 24 h). */
  grace?: number | undefined;
  secretTtl?: number | undefined;
}

type Deps = Pick<AdminRunDeps, 'stdout' | 'stderr'> & OperationsDeps;

function printClient(out: Io['stdout'], view: ClientView): void {
  for (const [key, value] of Object.entries(view)) {
    if (key === 'client_secret') continue;
    writeLine(out, `${key.padEnd(26)} ${fieldText(key, value)}`);
  }
}

export async function runClientsCreate(options: ClientsCreateOptions, deps: Deps): Promise<void> {
  const jwks = options.jwksFile ? await readJwksFile(options.jwksFile) : undefined;
  const created = await withAdmin(options, deps, (ops) =>
    ops.createClient({
      name: options.name,
      kind: options.kind,
      grants: options.grant,
      scopes: options.scope,
      ...(options.authMethod ? { authMethod: options.authMethod } : {}),
      ...(jwks !== undefined ? { jwks } : {}),
      ...(options.jwksUri ? { jwksUri: options.jwksUri } : {}),
      ...(options.owner ? { owner: options.owner } : {}),
      audiences: options.audience,
      ...(options.tokenTtl ? { tokenTtlSeconds: options.tokenTtl } : {}),
      ...(options.secretTtl ? { secretTtlSeconds: options.secretTtl } : {}),
      ...(options.requireMfa ? { requireMfa: options.requireMfa } : {}),
      ...(options.refreshIdleTtl !== undefined ? { refreshIdleTtlSeconds: options.refreshIdleTtl } : {}),
      ...(options.refreshAbsoluteTtl !== undefined
        ? { refreshAbsoluteTtlSeconds: options.refreshAbsoluteTtl }
        : {}),
    }),
  );
  if (options.json) {
    writeJson(deps, created);
    return;
  }
  printClient(deps.stdout, created);
  if (created.client_secret) {
    writeLine(deps.stdout, `${'client_secret'.padEnd(26)} ${created.client_secret}`);
    writeLine(deps.stderr, 'Store the client secret now: it is shown only this once.');
  }
}

export async function runClientsList(options: ClientsListOptions, deps: Deps): Promise<void> {
  const all = await withAdmin(options, deps, (ops) => ops.listClients());
  if (options.json) return writeJson(deps, all);
  writeLine(deps.stdout, `${'CLIENT_ID'.padEnd(24)} ${'KIND'.padEnd(13)} ${'AUTH'.padEnd(20)} NAME`);
  for (const c of all) {
    writeLine(
      deps.stdout,
      `${c.client_id.padEnd(24)} ${c.kind.padEnd(13)} ${c.token_endpoint_auth_method.padEnd(20)} ${c.name}`,
    );
  }
}

export async function runClientsShow(options: ClientOptions, deps: Deps): Promise<void> {
  const client = await withAdmin(options, deps, (ops) => ops.showClient(options.id));
  if (options.json) writeJson(deps, client);
  else printClient(deps.stdout, client);
}

export async function runClientsDelete(
  options: ConfirmedClientOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  await confirm(
    deps,
    {
      action: `delete client ${options.id}`,
      consequence: 'Its secrets and federations are deleted, its API keys revoked.',
    },
    options.yes,
  );
  await withAdmin(options, deps, (ops) => ops.deleteClient(options.id));
  if (options.json) writeJson(deps, { client_id: options.id, deleted: true });
  else writeLine(deps.stderr, `Deleted client ${options.id}.`);
}

export async function runClientsRotateSecret(options: ClientsRotateSecretOptions, deps: Deps): Promise<void> {
  const result = await withAdmin(options, deps, (ops) =>
    ops.rotateClientSecret(options.id, {
      graceSeconds: options.grace ?? 86_400,
      ...(options.secretTtl ? { secretTtlSeconds: options.secretTtl } : {}),
    }),
  );
  if (options.json) {
    writeJson(deps, result);
    return;
  }
  writeLine(deps.stdout, `${'client_id'.padEnd(26)} ${result.client_id}`);
  writeLine(deps.stdout, `${'client_secret'.padEnd(26)} ${result.client_secret}`);
  writeLine(deps.stdout, `${'previous_secrets_expire_at'.padEnd(26)} ${result.previous_secrets_expire_at}`);
  writeLine(deps.stderr, 'Store the new secret now: it is shown only this once.');
}

export async function runClientsUpdate(options: ClientsUpdateOptions, deps: Deps): Promise<void> {
  const client = await withAdmin(options, deps, (ops) =>
    ops.updateClient(options.id, {
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.owner !== undefined ? { owner: options.owner } : {}),
      ...(options.grant !== undefined ? { grants: options.grant } : {}),
      ...(options.scope !== undefined ? { scopes: options.scope } : {}),
      ...(options.audience !== undefined ? { audiences: options.audience } : {}),
      ...(options.tokenTtl !== undefined ? { tokenTtlSeconds: options.tokenTtl } : {}),
      ...(options.refreshIdleTtl !== undefined ? { refreshIdleTtlSeconds: options.refreshIdleTtl } : {}),
      ...(options.refreshAbsoluteTtl !== undefined
        ? { refreshAbsoluteTtlSeconds: options.refreshAbsoluteTtl }
        : {}),
      ...(options.requireMfa !== undefined ? { requireMfa: options.requireMfa } : {}),
    }),
  );
  if (options.json) writeJson(deps, client);
  else printClient(deps.stdout, client);
}

export async function runClientsDisable(
  options: ConfirmedClientOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  await confirm(
    deps,
    {
      action: `disable client ${options.id}`,
      consequence: 'It can no longer authenticate or get tokens.',
    },
    options.yes,
  );
  const client = await withAdmin(options, deps, (ops) => ops.disableClient(options.id));
  if (options.json) writeJson(deps, client);
  else writeLine(deps.stderr, `Disabled client ${client.client_id}.`);
}

export async function runClientsEnable(options: ClientOptions, deps: Deps): Promise<void> {
  const client = await withAdmin(options, deps, (ops) => ops.enableClient(options.id));
  if (options.json) writeJson(deps, client);
  else writeLine(deps.stderr, `Enabled client ${client.client_id}.`);
}

export async function runClientsSecretsList(options: ClientOptions, deps: Deps): Promise<void> {
  const secrets = await withAdmin(options, deps, (ops) => ops.listClientSecrets(options.id));
  if (options.json) return writeJson(deps, secrets);
  writeLine(
    deps.stdout,
    `${'SECRET_ID'.padEnd(16)} ${'STATE'.padEnd(8)} ${'CREATED'.padEnd(24)} ${'EXPIRES'.padEnd(24)} LAST_USED`,
  );
  for (const s of secrets) {
    writeLine(
      deps.stdout,
      `${s.id.padEnd(16)} ${s.state.padEnd(8)} ${s.created_at.padEnd(24)} ${(s.expires_at ?? 'never').padEnd(24)} ${s.last_used_at ?? 'unknown'}`,
    );
  }
}

export async function runClientsSecretsRevoke(
  options: ClientsSecretsRevokeOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  await confirm(
    deps,
    {
      action: `revoke secret ${options.secretId} of client ${options.id}`,
      consequence: 'It stops working at once.',
    },
    options.yes,
  );
  const secret = await withAdmin(options, deps, (ops) =>
    ops.revokeClientSecret(options.id, options.secretId),
  );
  if (options.json) writeJson(deps, secret);
  else writeLine(deps.stderr, `Revoked secret ${secret.id} of client ${options.id}.`);
}
