/**
 * `clavis admin federations create|list|show|update|disable|enable|test|delete`: the trust policies under which a CI job or a
 * Kubernetes pod exchanges its platform's OIDC token for a service principal's short-lived token. The
 * flags; the work is in federations_run.ts.
 */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { collect, duration } from '../../options.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import type {
  ConfirmedFederationOptions,
  FederationOptions,
  FederationsCreateOptions,
  FederationsListOptions,
  FederationsTestOptions,
  FederationsUpdateOptions,
} from './federations_run.js';
import { serverDefaults } from './help_defaults.js';

type JsonFlag = Pick<FederationOptions, 'json'>;
type ConfirmFlags = Pick<ConfirmedFederationOptions, 'json' | 'yes'>;
const YES = 'do not ask for confirmation (required when stdin is not a terminal)';

export function registerFederations(admin: Command, io: Io): void {
  const federations = admin
    .command('federations')
    .description('trust CI and Kubernetes workload tokens (workload identity federation)');

  federations
    .command('create')
    .description('trust an issuer’s workload tokens that meet the conditions, for one service principal')
    .requiredOption(
      '--client <client_id>',
      'the service principal (confidential client) tokens are issued to',
    )
    .option('--issuer <url>', 'the token issuer (iss); filled by --preset where the platform has one')
    .requiredOption(
      '--audience <aud>',
      'the aud the workload token must carry (e.g. this server’s issuer URL)',
    )
    .option('--claim <claim=pattern>', 'a condition (repeatable): exact, or a glob with *', collect, [])
    .option('--jwks-file <file>', 'the issuer’s public JWKS (air-gapped: no fetch at all)')
    .option('--jwks-uri <url>', 'where the issuer publishes its JWKS (default: OIDC discovery)')
    .option(
      '--scope <scope>',
      'scope ceiling (repeatable; default: the client’s, which it must lie within)',
      collect,
      [],
    )
    .option('--preset <preset>', `platform rules and issuer: ${serverDefaults.federationPresets.join(', ')}`)
    .option('--max-ttl <duration>', 'longest access-token lifetime (default 15m)', duration)
    .option('--name <name>', 'display name')
    .option(
      '--allow-org-wide',
      'accept a wildcard repository (repository=acme/*, project_path=group/*): trusts every repository it matches',
    )
    .option('--json', 'print JSON')
    .action(async (flags: Omit<FederationsCreateOptions, keyof AdminTarget>, command: Command) => {
      const { runFederationsCreate } = await import('./federations_run.js');
      await runFederationsCreate({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  federations
    .command('list')
    .description('list federations')
    .option('--json', 'print JSON')
    .action(async (flags: Omit<FederationsListOptions, keyof AdminTarget>, command: Command) => {
      const { runFederationsList } = await import('./federations_run.js');
      await runFederationsList({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  federations
    .command('show <id>')
    .description('show one federation')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: JsonFlag, command: Command) => {
      const { runFederationsShow } = await import('./federations_run.js');
      await runFederationsShow({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  federations
    .command('delete <id>')
    .description('delete a federation: exchanges under it stop at once')
    .option('--yes', YES)
    .option('--json', 'print JSON')
    .action(async (id: string, flags: ConfirmFlags, command: Command) => {
      const { runFederationsDelete } = await import('./federations_run.js');
      await runFederationsDelete({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  federations
    .command('update <id>')
    .description('change a federation (validated as create); the issuer and client stay')
    .option('--audience <aud>', 'the aud the workload token must carry')
    .option('--claim <claim=pattern>', 'a condition (repeatable; replaces every condition)', collect)
    .option('--jwks-file <file>', 'the issuer’s public JWKS (replaces the key source)')
    .option('--jwks-uri <url>', 'where the issuer publishes its JWKS (replaces the key source)')
    .option('--discovery', 'find the issuer’s keys by OIDC discovery again')
    .option('--scope <scope>', 'scope ceiling (repeatable; replaces it; within the client’s)', collect)
    .option('--max-ttl <duration>', 'longest access-token lifetime', duration)
    .option('--name <name>', 'display name')
    .option('--allow-org-wide', 'accept a wildcard repository condition')
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        flags: Omit<FederationsUpdateOptions, keyof AdminTarget | 'id'>,
        command: Command,
      ) => {
        const { runFederationsUpdate } = await import('./federations_run.js');
        await runFederationsUpdate({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );

  federations
    .command('disable <id>')
    .description('stop exchanges under a federation at once (enable restores it)')
    .option('--yes', YES)
    .option('--json', 'print JSON')
    .action(async (id: string, flags: ConfirmFlags, command: Command) => {
      const { runFederationsDisable } = await import('./federations_run.js');
      await runFederationsDisable({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  federations
    .command('enable <id>')
    .description('let exchanges under a disabled federation work again')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: JsonFlag, command: Command) => {
      const { runFederationsEnable } = await import('./federations_run.js');
      await runFederationsEnable({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  federations
    .command('test <id> [token]')
    .description(
      'check a workload token against a federation, condition by condition, issuing nothing (exit 1 if any fails)',
    )
    .option('--token-stdin', 'read the token from stdin (keeps it out of the shell history)')
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        token: string | undefined,
        flags: Omit<FederationsTestOptions, keyof AdminTarget | 'id' | 'token'>,
        command: Command,
      ) => {
        const { runFederationsTest } = await import('./federations_run.js');
        await runFederationsTest({ id, token, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );
}
