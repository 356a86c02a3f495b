/** `clavis admin users create|list|show|disable|reset-mfa|unlock`. */
import { adminUsers } from '@clavis/server';
import type { Command } from 'commander';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import { collect } from '../../options.js';
import { adminOptions, withAdmin } from './context.js';

interface CreateOptions {
  passwordStdin?: boolean;
  totp?: boolean;
  admin?: boolean;
  scope: string[];
  json?: boolean;
}

/** Enough for the longest password accepted (1024 characters of up to 4 bytes) and a newline. */
const STDIN_LIMIT = 4 * adminUsers.PASSWORD_MAX_LENGTH + 2;

/** The password piped on stdin, without one trailing newline (`\n` or `\r\n`). */
export async function readPasswordFromStdin(io: Pick<Io, 'stdin'>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > STDIN_LIMIT) {
      throw new CliError(
        `the password on stdin is too long (at most ${adminUsers.PASSWORD_MAX_LENGTH} characters)`,
      );
    }
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text === '') throw new CliError('--password-stdin: no password on stdin');
  return text;
}

function printUser(io: Io, user: adminUsers.UserView): void {
  for (const [key, value] of Object.entries(user)) {
    writeLine(io.stdout, `${key.padEnd(14)} ${String(value ?? '-')}`);
  }
}

function state(user: adminUsers.UserView): string {
  if (user.disabled_at) return 'disabled';
  if (user.locked_at) return 'locked';
  if (user.locked_until && Date.parse(user.locked_until) > Date.now()) return 'locked for now';
  return 'active';
}

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
    .action(async (username: string, options: CreateOptions, command: Command) => {
      adminUsers.checkUsername(username);
      const password = options.passwordStdin
        ? adminUsers.checkPassword(await readPasswordFromStdin(io))
        : undefined;
      await withAdmin(io, adminOptions(command), async ({ deps, actor }) => {
        const created = await adminUsers.createUser(
          deps,
          {
            username,
            ...(password !== undefined ? { password } : {}),
            totp: options.totp === true,
            isAdmin: options.admin === true,
            ...(options.scope.length ? { scopes: options.scope } : {}),
          },
          actor,
        );
        if (options.json) {
          writeJson(io, {
            ...created.user,
            ...(created.password !== undefined ? { password: created.password } : {}),
            ...(created.totpSecret !== undefined
              ? { totp_secret: created.totpSecret, totp_uri: created.totpUri }
              : {}),
          });
        } else {
          printUser(io, created.user);
          if (created.password !== undefined)
            writeLine(io.stdout, `${'password'.padEnd(14)} ${created.password}`);
          if (created.totpSecret !== undefined) {
            writeLine(io.stdout, `${'totp_secret'.padEnd(14)} ${created.totpSecret}`);
            writeLine(io.stdout, `${'totp_uri'.padEnd(14)} ${created.totpUri}`);
          }
        }
        const shown = [
          created.password !== undefined ? 'password' : null,
          created.totpSecret !== undefined ? 'TOTP secret' : null,
        ].filter((s) => s !== null);
        if (shown.length > 0) {
          writeLine(
            io.stderr,
            `Give the ${shown.join(' and the ')} to ${username} now: ${shown.length > 1 ? 'they are' : 'it is'} shown only this once.`,
          );
        }
      });
    });

  users
    .command('list')
    .description('list people (never a password hash or a TOTP secret)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps }) => {
        const all = await adminUsers.listUsers(deps);
        if (options.json) return writeJson(io, all);
        writeLine(
          io.stdout,
          `${'ID'.padEnd(26)} ${'USERNAME'.padEnd(24)} ${'MFA'.padEnd(5)} ${'ADMIN'.padEnd(5)} STATE`,
        );
        for (const u of all) {
          writeLine(
            io.stdout,
            `${u.id.padEnd(26)} ${u.username.padEnd(24)} ${(u.has_totp ? 'totp' : '-').padEnd(5)} ${(u.is_admin ? 'yes' : '-').padEnd(5)} ${state(u)}`,
          );
        }
      });
    });

  users
    .command('show <user>')
    .description('show one person, by username or id')
    .option('--json', 'print JSON')
    .action(async (nameOrId: string, options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps }) => {
        const user = await adminUsers.showUser(deps, nameOrId);
        if (options.json) writeJson(io, user);
        else printUser(io, user);
      });
    });

  users
    .command('disable <user>')
    .description('stop a person signing in; revoke their refresh tokens and the access tokens from them')
    .option('--json', 'print JSON')
    .action(async (nameOrId: string, options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps, actor }) => {
        const { user, revokedFamilies } = await adminUsers.disableUser(deps, nameOrId, actor);
        if (options.json) writeJson(io, { ...user, revoked_families: revokedFamilies });
        else
          writeLine(
            io.stderr,
            `Disabled ${user.username}; revoked ${revokedFamilies} refresh-token ${revokedFamilies === 1 ? 'family' : 'families'}.`,
          );
      });
    });

  users
    .command('reset-mfa <user>')
    .description("remove a person's second factor and recovery codes; they enrol again at next sign-in")
    .option('--json', 'print JSON')
    .action(async (nameOrId: string, options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps, actor }) => {
        const user = await adminUsers.resetMfa(deps, nameOrId, actor);
        if (options.json) writeJson(io, user);
        else writeLine(io.stderr, `Removed the second factor of ${user.username}.`);
      });
    });

  users
    .command('unlock <user>')
    .description('clear a lock from repeated failed sign-ins or codes')
    .option('--json', 'print JSON')
    .action(async (nameOrId: string, options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps, actor }) => {
        const user = await adminUsers.unlockUser(deps, nameOrId, actor);
        if (options.json) writeJson(io, user);
        else writeLine(io.stderr, `Unlocked ${user.username}.`);
      });
    });
}
