/**
 * `clavis admin clients create|list|show|update|disable|enable|delete|rotate-secret` and `clients secrets
 * list|revoke`: the flags; the work is in clients_run.ts.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { CliError } from '../../errors.js';
import type { Io } from '../../io.js';
import { collect, duration } from '../../options.js';
import type {
  ClientOptions,
  ClientsCreateOptions,
  ClientsListOptions,
  ClientsRotateSecretOptions,
  ClientsUpdateOptions,
  ConfirmedClientOptions,
} from './clients_run.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';

/** `--require-mfa [level]`: bare (or `any`) means any second factor; `phishing-resistant` means WebAuthn. */
function mfaLevel(value: string): true | 'phishing-resistant' {
  if (value === 'phishing-resistant') return value;
  if (value === 'any') return true;
  throw new InvalidArgumentError('must be any or phishing-resistant');
}

type CreateFlags = Omit<ClientsCreateOptions, keyof AdminTarget | 'kind'> & { kind: string };

function clientKind(kind: string): ClientsCreateOptions['kind'] {
  if (kind !== 'public' && kind !== 'confidential')
    throw new CliError('--kind must be public or confidential');
  return kind;
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
    .option(
      '--require-mfa [level]',
      'people approve its device requests only after a second factor; level phishing-resistant: a passkey or security key, not a TOTP code',
      mfaLevel,
    )
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
    .action(async (flags: CreateFlags, command: Command) => {
      const options: ClientsCreateOptions = {
        ...flags,
        kind: clientKind(flags.kind),
        ...adminTarget(command),
      };
      const { runClientsCreate } = await import('./clients_run.js');
      await runClientsCreate(options, adminRunDeps(io));
    });

  clients
    .command('list')
    .description('list clients')
    .option('--json', 'print JSON')
    .action(async (flags: Omit<ClientsListOptions, keyof AdminTarget>, command: Command) => {
      const { runClientsList } = await import('./clients_run.js');
      await runClientsList({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  clients
    .command('show <client_id>')
    .description('show one client')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: Pick<ClientOptions, 'json'>, command: Command) => {
      const { runClientsShow } = await import('./clients_run.js');
      await runClientsShow({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  clients
    .command('delete <client_id>')
    .description('delete a client and its secrets; its tokens stop being introspectable as active')
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: Pick<ConfirmedClientOptions, 'json' | 'yes'>, command: Command) => {
      const { runClientsDelete } = await import('./clients_run.js');
      await runClientsDelete({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
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
        flags: Omit<ClientsRotateSecretOptions, keyof AdminTarget | 'id'>,
        command: Command,
      ) => {
        const { runClientsRotateSecret } = await import('./clients_run.js');
        await runClientsRotateSecret({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );

  clients
    .command('update <client_id>')
    .description('change a client: what is given replaces what is stored (validated as create)')
    .option('--name <name>', 'display name')
    .option('--owner <owner>', 'who is responsible for this principal')
    .option('--grant <grant>', 'allowed grant type (repeatable; replaces the list)', collect)
    .option('--scope <scope>', 'scope the client may be given (repeatable; replaces the ceiling)', collect)
    .option('--audience <aud>', 'resource it may request tokens for (repeatable; replaces the list)', collect)
    .option('--token-ttl <duration>', 'access-token lifetime (at most 1h)', duration)
    .option('--refresh-idle-ttl <duration>', 'a refresh token unused this long expires', duration)
    .option('--refresh-absolute-ttl <duration>', 'no refresh this long after the approval', duration)
    .option(
      '--require-mfa [level]',
      'people approve its device requests only after a second factor; level phishing-resistant: a passkey or security key, not a TOTP code',
      mfaLevel,
    )
    .option('--no-require-mfa', 'people approve its device requests with a password alone')
    .option('--json', 'print JSON')
    .action(
      async (id: string, flags: Omit<ClientsUpdateOptions, keyof AdminTarget | 'id'>, command: Command) => {
        const { runClientsUpdate } = await import('./clients_run.js');
        await runClientsUpdate({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );

  clients
    .command('disable <client_id>')
    .description('stop a client authenticating and getting tokens; its tokens stop introspecting as active')
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: Pick<ConfirmedClientOptions, 'json' | 'yes'>, command: Command) => {
      const { runClientsDisable } = await import('./clients_run.js');
      await runClientsDisable({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  clients
    .command('enable <client_id>')
    .description('let a disabled client authenticate again')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: Pick<ClientOptions, 'json'>, command: Command) => {
      const { runClientsEnable } = await import('./clients_run.js');
      await runClientsEnable({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  const secrets = clients.command('secrets').description("a client's secrets (never shown again)");

  secrets
    .command('list <client_id>')
    .description('list the secrets: id, state, created, expires (never the secret)')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: Pick<ClientOptions, 'json'>, command: Command) => {
      const { runClientsSecretsList } = await import('./clients_run.js');
      await runClientsSecretsList({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  secrets
    .command('revoke <client_id> <secret_id>')
    .description('revoke one secret now (not after a grace period, unlike rotate-secret)')
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        secretId: string,
        flags: Pick<ConfirmedClientOptions, 'json' | 'yes'>,
        command: Command,
      ) => {
        const { runClientsSecretsRevoke } = await import('./clients_run.js');
        await runClientsSecretsRevoke({ id, secretId, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );
}
