/** `clavis admin users create|list|show|disable|reset-mfa|unlock`: the flags; the work is in users_run.ts. */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { collect } from '../../options.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import type { UserOptions, UsersCreateOptions, UsersListOptions } from './users_run.js';

type JsonFlag = Pick<UserOptions, 'json'>;

export function registerUsers(admin: Command, io: Io): void {
  const users = admin.command('users').description('people who sign in on the device verification pages');

  users
    .command('create <username>')
    .description('create a person; a generated password and a TOTP secret are printed once')
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
    .option('--json', 'print JSON')
    .action(async (user: string, flags: JsonFlag, command: Command) => {
      const { runUsersDisable } = await import('./users_run.js');
      await runUsersDisable({ user, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  users
    .command('reset-mfa <user>')
    .description("remove a person's second factor and recovery codes; they enrol again at next sign-in")
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
}
