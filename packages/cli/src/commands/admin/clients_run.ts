/**
 * The work of `clavis admin clients create|list|show|update|disable|enable|delete|rotate-secret` and
 * `clients secrets list|revoke`.
 */
import { adminClientSecrets, adminClients, type Client, clientView } from '@clavis/server';
import { confirm } from '../../confirm.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { readJwksFile } from './jwks_file.js';
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

type Deps = Pick<AdminRunDeps, 'stdout' | 'stderr' | 'openAdmin'>;

function printClient(out: Io['stdout'], client: Client): void {
  const view = clientView(client);
  for (const [key, value] of Object.entries(view)) {
    writeLine(out, `${key.padEnd(26)} ${fieldText(key, value)}`);
  }
}

export async function runClientsCreate(options: ClientsCreateOptions, deps: Deps): Promise<void> {
  const jwks = options.jwksFile ? await readJwksFile(options.jwksFile) : undefined;
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const { client, secret } = await adminClients.createClient(
      admin,
      {
        name: options.name,
        kind: options.kind,
        grants: options.grant,
        scopes: options.scope,
        ...(options.authMethod ? { authMethod: options.authMethod as Client['authMethod'] } : {}),
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
      },
      actor,
    );
    if (options.json) {
      writeJson(deps, { ...clientView(client), ...(secret ? { client_secret: secret } : {}) });
      return;
    }
    printClient(deps.stdout, client);
    if (secret) {
      writeLine(deps.stdout, `${'client_secret'.padEnd(26)} ${secret}`);
      writeLine(deps.stderr, 'Store the client secret now: it is shown only this once.');
    }
  });
}

export async function runClientsList(
  options: ClientsListOptions,
  deps: Pick<Deps, 'stdout' | 'openAdmin'>,
): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin }) => {
    const all = await adminClients.listClients(admin);
    if (options.json) return writeJson(deps, all.map(clientView));
    writeLine(deps.stdout, `${'CLIENT_ID'.padEnd(24)} ${'KIND'.padEnd(13)} ${'AUTH'.padEnd(20)} NAME`);
    for (const c of all) {
      writeLine(deps.stdout, `${c.id.padEnd(24)} ${c.kind.padEnd(13)} ${c.authMethod.padEnd(20)} ${c.name}`);
    }
  });
}

export async function runClientsShow(
  options: ClientOptions,
  deps: Pick<Deps, 'stdout' | 'openAdmin'>,
): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin }) => {
    const client = await adminClients.showClient(admin, options.id);
    if (options.json) writeJson(deps, clientView(client));
    else printClient(deps.stdout, client);
  });
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
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    await adminClients.deleteClient(admin, options.id, actor);
    if (options.json) writeJson(deps, { client_id: options.id, deleted: true });
    else writeLine(deps.stderr, `Deleted client ${options.id}.`);
  });
}

export async function runClientsRotateSecret(options: ClientsRotateSecretOptions, deps: Deps): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const result = await adminClients.rotateClientSecret(
      admin,
      options.id,
      {
        graceSeconds: options.grace ?? 86_400,
        ...(options.secretTtl ? { secretTtlSeconds: options.secretTtl } : {}),
      },
      actor,
    );
    const previous = new Date(result.previousExpireAt).toISOString();
    if (options.json) {
      writeJson(deps, {
        client_id: result.clientId,
        client_secret: result.secret,
        previous_secrets_expire_at: previous,
      });
      return;
    }
    writeLine(deps.stdout, `${'client_id'.padEnd(26)} ${result.clientId}`);
    writeLine(deps.stdout, `${'client_secret'.padEnd(26)} ${result.secret}`);
    writeLine(deps.stdout, `${'previous_secrets_expire_at'.padEnd(26)} ${previous}`);
    writeLine(deps.stderr, 'Store the new secret now: it is shown only this once.');
  });
}

export async function runClientsUpdate(options: ClientsUpdateOptions, deps: Deps): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const client = await adminClients.updateClient(
      admin,
      options.id,
      {
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
      },
      actor,
    );
    if (options.json) writeJson(deps, clientView(client));
    else printClient(deps.stdout, client);
  });
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
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const client = await adminClients.disableClient(admin, options.id, actor);
    if (options.json) writeJson(deps, clientView(client));
    else writeLine(deps.stderr, `Disabled client ${client.id}.`);
  });
}

export async function runClientsEnable(options: ClientOptions, deps: Deps): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const client = await adminClients.enableClient(admin, options.id, actor);
    if (options.json) writeJson(deps, clientView(client));
    else writeLine(deps.stderr, `Enabled client ${client.id}.`);
  });
}

export async function runClientsSecretsList(
  options: ClientOptions,
  deps: Pick<Deps, 'stdout' | 'openAdmin'>,
): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin }) => {
    const secrets = await adminClientSecrets.listSecrets(admin, options.id);
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
  });
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
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const secret = await adminClientSecrets.revokeSecret(admin, options.id, options.secretId, actor);
    if (options.json) writeJson(deps, { client_id: options.id, ...secret });
    else writeLine(deps.stderr, `Revoked secret ${secret.id} of client ${options.id}.`);
  });
}
