/** The work of `clavis admin clients create|list|show|delete|rotate-secret`. */
import { readFile } from 'node:fs/promises';
import { adminClients, type Client, clientView } from '@clavis/server';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
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
  requireMfa?: boolean | undefined;
  refreshIdleTtl?: number | undefined;
  refreshAbsoluteTtl?: number | undefined;
  json?: boolean | undefined;
}

export interface ClientOptions extends AdminTarget {
  id: string;
  json?: boolean | undefined;
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

async function readJwks(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new CliError(`cannot read JWKS file ${path}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`JWKS file ${path} is not valid JSON`);
  }
}

function printClient(out: Io['stdout'], client: Client): void {
  const view = clientView(client);
  for (const [key, value] of Object.entries(view)) {
    writeLine(out, `${key.padEnd(26)} ${fieldText(key, value)}`);
  }
}

export async function runClientsCreate(options: ClientsCreateOptions, deps: Deps): Promise<void> {
  const jwks = options.jwksFile ? await readJwks(options.jwksFile) : undefined;
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
        ...(options.requireMfa ? { requireMfa: true } : {}),
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

export async function runClientsDelete(options: ClientOptions, deps: Deps): Promise<void> {
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
