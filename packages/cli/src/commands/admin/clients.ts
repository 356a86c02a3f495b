/** `clavis admin clients create|list|show|delete|rotate-secret`. */
import { readFile } from 'node:fs/promises';
import { adminClients, type Client, clientView } from '@clavis/server';
import type { Command } from 'commander';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import { collect, duration } from '../../options.js';
import { adminOptions, withAdmin } from './context.js';

interface CreateOptions {
  name: string;
  kind: 'public' | 'confidential';
  grant: string[];
  scope: string[];
  authMethod?: string;
  jwksFile?: string;
  jwksUri?: string;
  owner?: string;
  audience: string[];
  tokenTtl?: number;
  secretTtl?: number;
  requireMfa?: boolean;
  refreshIdleTtl?: number;
  refreshAbsoluteTtl?: number;
  json?: boolean;
}

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

function printClient(io: Io, client: Client): void {
  const view = clientView(client);
  for (const [key, value] of Object.entries(view)) {
    writeLine(
      io.stdout,
      `${key.padEnd(26)} ${Array.isArray(value) ? value.join(' ') : String(value ?? '-')}`,
    );
  }
}

export function registerClients(admin: Command, io: Io): void {
  const clients = admin.command('clients').description('service principals and public clients');

  clients
    .command('create')
    .description('register a client; a secret, if any, is printed once')
    .requiredOption('--name <name>', 'display name (shown on consent pages)')
    .requiredOption('--kind <kind>', 'public | confidential')
    .option(
      '--grant <grant>',
      'allowed grant type (repeatable): client_credentials, device_code, refresh_token, token-exchange, jwt-bearer',
      collect,
      [],
    )
    .option('--scope <scope>', 'scope the client may be given (repeatable): the ceiling', collect, [])
    .option('--auth-method <method>', 'none | client_secret_basic | client_secret_post | private_key_jwt')
    .option('--jwks-file <file>', 'public JWKS for private_key_jwt')
    .option('--jwks-uri <url>', 'where the client publishes its JWKS, for private_key_jwt')
    .option('--owner <owner>', 'who is responsible for this principal')
    .option(
      '--audience <aud>',
      'resource the client may request tokens for (repeatable; first is the default)',
      collect,
      [],
    )
    .option('--token-ttl <duration>', 'access-token lifetime (default 10m, at most 1h)', duration)
    .option('--secret-ttl <duration>', 'lifetime of the generated secret (default: until rotated)', duration)
    .option('--require-mfa', 'people approve its device requests only after a second factor')
    .option(
      '--refresh-idle-ttl <duration>',
      'a refresh token unused this long expires (default 8h)',
      duration,
    )
    .option(
      '--refresh-absolute-ttl <duration>',
      'no refresh this long after the approval (default 24h)',
      duration,
    )
    .option('--json', 'print JSON')
    .action(async (options: CreateOptions, command: Command) => {
      if (options.kind !== 'public' && options.kind !== 'confidential')
        throw new CliError('--kind must be public or confidential');
      const jwks = options.jwksFile ? await readJwks(options.jwksFile) : undefined;
      await withAdmin(io, adminOptions(command), async ({ deps, actor }) => {
        const { client, secret } = await adminClients.createClient(
          deps,
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
            ...(options.refreshIdleTtl !== undefined
              ? { refreshIdleTtlSeconds: options.refreshIdleTtl }
              : {}),
            ...(options.refreshAbsoluteTtl !== undefined
              ? { refreshAbsoluteTtlSeconds: options.refreshAbsoluteTtl }
              : {}),
          },
          actor,
        );
        if (options.json) {
          writeJson(io, { ...clientView(client), ...(secret ? { client_secret: secret } : {}) });
          return;
        }
        printClient(io, client);
        if (secret) {
          writeLine(io.stdout, `${'client_secret'.padEnd(26)} ${secret}`);
          writeLine(io.stderr, 'Store the client secret now: it is shown only this once.');
        }
      });
    });

  clients
    .command('list')
    .description('list clients')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps }) => {
        const all = await adminClients.listClients(deps);
        if (options.json) return writeJson(io, all.map(clientView));
        writeLine(io.stdout, `${'CLIENT_ID'.padEnd(24)} ${'KIND'.padEnd(13)} ${'AUTH'.padEnd(20)} NAME`);
        for (const c of all) {
          writeLine(
            io.stdout,
            `${c.id.padEnd(24)} ${c.kind.padEnd(13)} ${c.authMethod.padEnd(20)} ${c.name}`,
          );
        }
      });
    });

  clients
    .command('show <client_id>')
    .description('show one client')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps }) => {
        const client = await adminClients.showClient(deps, id);
        if (options.json) writeJson(io, clientView(client));
        else printClient(io, client);
      });
    });

  clients
    .command('delete <client_id>')
    .description('delete a client and its secrets; its tokens stop being introspectable as active')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps, actor }) => {
        await adminClients.deleteClient(deps, id, actor);
        if (options.json) writeJson(io, { client_id: id, deleted: true });
        else writeLine(io.stderr, `Deleted client ${id}.`);
      });
    });

  clients
    .command('rotate-secret <client_id>')
    .description('issue a new secret; the old ones keep working for the grace period')
    .option(
      '--grace <duration>',
      'how long the previous secrets stay valid (default 24h; 0s not allowed, use 1s)',
      duration,
    )
    .option('--secret-ttl <duration>', 'lifetime of the new secret (default: until rotated)', duration)
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        options: { grace?: number; secretTtl?: number; json?: boolean },
        command: Command,
      ) => {
        await withAdmin(io, adminOptions(command), async ({ deps, actor }) => {
          const result = await adminClients.rotateClientSecret(
            deps,
            id,
            {
              graceSeconds: options.grace ?? 86_400,
              ...(options.secretTtl ? { secretTtlSeconds: options.secretTtl } : {}),
            },
            actor,
          );
          const previous = new Date(result.previousExpireAt).toISOString();
          if (options.json) {
            writeJson(io, {
              client_id: result.clientId,
              client_secret: result.secret,
              previous_secrets_expire_at: previous,
            });
            return;
          }
          writeLine(io.stdout, `${'client_id'.padEnd(26)} ${result.clientId}`);
          writeLine(io.stdout, `${'client_secret'.padEnd(26)} ${result.secret}`);
          writeLine(io.stdout, `${'previous_secrets_expire_at'.padEnd(26)} ${previous}`);
          writeLine(io.stderr, 'Store the new secret now: it is shown only this once.');
        });
      },
    );
}
