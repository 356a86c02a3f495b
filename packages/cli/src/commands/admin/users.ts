/**
 * `clavis admin users create|list|show|disable|enable|set-password|set-scopes|sessions|revoke-sessions|
 * reset-mfa|unlock`: the flags; the work is in users_run.ts.
 */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { collect } from '../../options.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import type {
  ConfirmedUserOptions,
  UserOptions,
  UsersCreateOptions,
  UsersListOptions,
  UsersSetPasswordOptions,
  UsersSetScopesOptions,
} from './users_run.js';

type JsonFlag = Pick<UserOptions, 'json'>;
type ConfirmFlags = Pick<ConfirmedUserOptions, 'json' | 'yes'>;
const YES = 'do not ask for confirmation (required when stdin is not a terminal)';

export function registerUsers(admin: Command, io: Io): void {
  const users = admin.command('users').description('people who sign in on the device verification pages');

  users
    .command('create <username>')
    .description(
      'create a person; a generated (one-time) password, and with --totp a TOTP secret, are printed once',
    )
    .option('--password-stdin', 'read the password from stdin (default: generate one)')
    .option('--totp', 'enrol a TOTP second factor now (prints the secret and an otpauth:// URI)')
    .option('--admin', 'the person may administer Clavis')
    .option(
      '--scope <scope>',
      "a scope the person's API keys may carry (repeatable): the ceiling",
      collect,
      [],
    )
    .option('--json', 'print JSON')
    .action(
      async (
        username: string,
        flags: Omit<UsersCreateOptions, keyof AdminTarget | 'username'>,
        command: Command,
      ) => {
        const { runUsersCreate } = await import('./users_run.js');
        await runUsersCreate({ username, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );

  users
    .command('list')
    .description('list people (never a password hash or a TOTP secret)')
    .option('--json', 'print JSON')
    .action(async (flags: Omit<UsersListOptions, keyof AdminTarget>, command: Command) => {
      const { runUsersList } = await import('./users_run.js');
      await runUsersList({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  users
    .command('show <user>')
    .description('show one person, by username or id')
    .option('--json', 'print JSON')
    .action(async (user: string, flags: JsonFlag, command: Command) => {
      const { runUsersShow } = await import('./users_run.js');
      await runUsersShow({ user, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  users
    .command('disable <user>')
    .description('stop a person signing in; revoke their refresh tokens and the access tokens from them')
    .option('--yes', YES)
    .option('--json', 'print JSON')
    .action(async (user: string, flags: ConfirmFlags, command: Command) => {
      const { runUsersDisable } = await import('./users_run.js');
      await runUsersDisable({ user, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  users
    .command('reset-mfa <user>')
    .description(
      "remove a person's second factors (TOTP, passkeys) and recovery codes; they enrol again at next sign-in",
    )
    .option('--json', 'print JSON')
    .action(async (user: string, flags: JsonFlag, command: Command) => {
      const { runUsersResetMfa } = await import('./users_run.js');
      await runUsersResetMfa({ user, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  users
    .command('unlock <user>')
    .description('clear a lock from repeated failed sign-ins or codes')
    .option('--json', 'print JSON')
    .action(async (user: string, flags: JsonFlag, command: Command) => {
      const { runUsersUnlock } = await import('./users_run.js');
      await runUsersUnlock({ user, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  users
    .command('enable <user>')
    .description('let a disabled person sign in again')
    .option('--json', 'print JSON')
    .action(async (user: string, flags: JsonFlag, command: Command) => {
      const { runUsersEnable } = await import('./users_run.js');
      await runUsersEnable({ user, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  users
    .command('set-password <user>')
    .description('set a password; a generated one is printed once and must be replaced at next sign-in')
    .option('--password-stdin', 'read the password from stdin (default: generate a one-time one)')
    .option('--json', 'print JSON')
    .action(
      async (
        user: string,
        flags: Omit<UsersSetPasswordOptions, keyof AdminTarget | 'user'>,
        command: Command,
      ) => {
        const { runUsersSetPassword } = await import('./users_run.js');
        await runUsersSetPassword({ user, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );

  users
    .command('set-scopes <user>')
    .description("replace the scope ceiling of a person's API keys (their live keys narrow at once)")
    .requiredOption('--scope <scope>', 'a scope their keys may carry (repeatable)', collect, [])
    .option('--json', 'print JSON')
    .action(
      async (
        user: string,
        flags: Omit<UsersSetScopesOptions, keyof AdminTarget | 'user'>,
        command: Command,
      ) => {
        const { runUsersSetScopes } = await import('./users_run.js');
        await runUsersSetScopes({ user, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );

  users
    .command('sessions <user>')
    .description("a person's live refresh-token families: client, created, last used, expires")
    .option('--json', 'print JSON')
    .action(async (user: string, flags: JsonFlag, command: Command) => {
      const { runUsersSessions } = await import('./users_run.js');
      await runUsersSessions({ user, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  users
    .command('revoke-sessions <user>')
    .description('sign a person out everywhere: revoke every refresh-token family and its access tokens')
    .option('--yes', YES)
    .option('--json', 'print JSON')
    .action(async (user: string, flags: ConfirmFlags, command: Command) => {
      const { runUsersRevokeSessions } = await import('./users_run.js');
      await runUsersRevokeSessions({ user, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });
}
