/**
 * `clavis admin idps create|list|show|update|delete|links|stale|link|unlink`: the upstream OpenID
 * providers people sign in through on the verification pages (single sign-on). The flags; the work is in
 * idps_run.ts.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { Io } from '../../io.js';
import { collect, duration, positiveInt } from '../../options.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import type {
  IdpOptions,
  IdpsCreateOptions,
  IdpsDeleteOptions,
  IdpsLinkOptions,
  IdpsListOptions,
  IdpsStaleOptions,
  IdpsUnlinkOptions,
  IdpsUpdateOptions,
} from './idps_run.js';

const YES = 'do not ask for confirmation (required when stdin is not a terminal)';

function onOff(value: string): 'on' | 'off' {
  if (value !== 'on' && value !== 'off') throw new InvalidArgumentError('on or off');
  return value;
}

/** The settings create and update share. */
function settings(command: Command): Command {
  return command
    .option(
      '--scope <scope>',
      'a scope asked of the provider besides openid (repeatable; default profile email)',
      collect,
    )
    .option(
      '--claim-username <claim>',
      'the ID-token claim a new person’s username comes from (default preferred_username)',
    )
    .option('--claim-email <claim>', 'the e-mail claim, recorded only (default email)')
    .option('--claim-groups <claim>', 'the groups claim (default groups)')
    .option(
      '--allowed-group <group>',
      'only people in one of these upstream groups sign in (repeatable)',
      collect,
    )
    .option('--mfa-from-amr', 'believe the provider’s amr (mfa, otp, hwk, pop, sc) as the second factor')
    .option(
      '--acr <value>',
      'an acr the provider asserts that counts as the second factor (repeatable)',
      collect,
    )
    .option(
      '--local-passwords <on|off>',
      'keep offering local passwords beside the provider (default on)',
      onOff,
    )
    .option(
      '--session-lifetime <duration>',
      'linked people’s terminals sign in upstream again after this (default 8h)',
      duration,
    )
    .option('--json', 'print JSON');
}

export function registerIdps(admin: Command, io: Io): void {
  const idps = admin
    .command('idps')
    .description('single sign-on: the identity providers people sign in through');

  settings(
    idps
      .command('create')
      .description('add an OpenID Connect provider; its client secret is read from stdin and sealed')
      .requiredOption('--name <name>', 'what the sign-in page shows: "Sign in with NAME"')
      .requiredOption(
        '--issuer <url>',
        'the provider’s issuer URL (discovery at /.well-known/openid-configuration)',
      )
      .requiredOption('--client-id <id>', 'Clavis’s client id at the provider')
      .option('--client-secret-stdin', 'read the client secret from stdin (required)'),
  ).action(async (flags: Omit<IdpsCreateOptions, keyof AdminTarget>, command: Command) => {
    const { runIdpsCreate } = await import('./idps_run.js');
    await runIdpsCreate({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
  });

  idps
    .command('list')
    .description('list identity providers')
    .option('--json', 'print JSON')
    .action(async (flags: Omit<IdpsListOptions, keyof AdminTarget>, command: Command) => {
      const { runIdpsList } = await import('./idps_run.js');
      await runIdpsList({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  idps
    .command('show <name>')
    .description('show one identity provider (never its secret)')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: Pick<IdpOptions, 'json'>, command: Command) => {
      const { runIdpsShow } = await import('./idps_run.js');
      await runIdpsShow({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  settings(
    idps
      .command('update <name>')
      .description('change an identity provider; what is not given stays')
      .option('--name <name>', 'a new display name')
      .option('--issuer <url>', 'a new issuer URL')
      .option('--client-id <id>', 'a new client id')
      .option('--client-secret-stdin', 'read a new client secret from stdin')
      .option('--any-group', 'let anyone the provider signs in sign in (clears --allowed-group)'),
  )
    // After --mfa-from-amr, so that neither flag means "unchanged".
    .option('--no-mfa-from-amr', 'stop believing the provider’s amr as the second factor')
    .action(
      async (id: string, flags: Omit<IdpsUpdateOptions, keyof AdminTarget | 'id'>, command: Command) => {
        const { runIdpsUpdate } = await import('./idps_run.js');
        await runIdpsUpdate({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );

  idps
    .command('delete <name>')
    .description('delete an identity provider: its links go, linked people’s terminals sign in again')
    .option('--yes', YES)
    .option('--json', 'print JSON')
    .action(async (id: string, flags: Pick<IdpsDeleteOptions, 'json' | 'yes'>, command: Command) => {
      const { runIdpsDelete } = await import('./idps_run.js');
      await runIdpsDelete({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  idps
    .command('links <name>')
    .description('the people linked through an identity provider, with their last sign-in')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: Pick<IdpOptions, 'json'>, command: Command) => {
      const { runIdpsLinks } = await import('./idps_run.js');
      await runIdpsLinks({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  idps
    .command('stale <name>')
    .description('linked people who have not signed in for long (offboarding review)')
    .option('--days <n>', 'not signed in for this many days (default 90)', positiveInt, 90)
    .option('--json', 'print JSON')
    .action(async (id: string, flags: Pick<IdpsStaleOptions, 'json' | 'days'>, command: Command) => {
      const { runIdpsStale } = await import('./idps_run.js');
      await runIdpsStale({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  idps
    .command('link <name>')
    .description('link an existing person to their identity at the provider (its sub)')
    .requiredOption('--user <username>', 'the person here')
    .requiredOption('--subject <sub>', 'their subject (sub) at the provider')
    .option('--json', 'print JSON')
    .action(
      async (id: string, flags: Pick<IdpsLinkOptions, 'json' | 'user' | 'subject'>, command: Command) => {
        const { runIdpsLink } = await import('./idps_run.js');
        await runIdpsLink({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );

  idps
    .command('unlink <name>')
    .description('remove a link: that person’s terminals sign in again')
    .requiredOption('--subject <sub>', 'the subject (sub) at the provider')
    .option('--yes', YES)
    .option('--json', 'print JSON')
    .action(
      async (id: string, flags: Pick<IdpsUnlinkOptions, 'json' | 'yes' | 'subject'>, command: Command) => {
        const { runIdpsUnlink } = await import('./idps_run.js');
        await runIdpsUnlink({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );
}
