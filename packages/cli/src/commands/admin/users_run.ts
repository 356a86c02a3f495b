/**
 * The work of `clavis admin users create|list|show|disable|enable|set-password|set-scopes|sessions|
 * revoke-sessions|reset-mfa|unlock`.
 */
import { adminUsers } from '@clavis/server';
import { confirm } from '../../confirm.js';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { fieldText } from './text_fields.js';

export interface UsersCreateOptions extends AdminTarget {
  username: string;
  passwordStdin?: boolean | undefined;
  totp?: boolean | undefined;
  admin?: boolean | undefined;
  scope: string[];
  json?: boolean | undefined;
}

export interface UsersListOptions extends AdminTarget {
  json?: boolean | undefined;
}

/** A person, by username or id. */
export interface UserOptions extends AdminTarget {
  user: string;
  json?: boolean | undefined;
}

/** A destructive change: confirmed in a terminal, or by `--yes`. */
export interface ConfirmedUserOptions extends UserOptions {
  yes?: boolean | undefined;
}

export interface UsersSetPasswordOptions extends UserOptions {
  passwordStdin?: boolean | undefined;
}

export interface UsersSetScopesOptions extends UserOptions {
  scope: string[];
}

type Deps = Pick<AdminRunDeps, 'stdout' | 'stderr' | 'openAdmin'>;

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

function printUser(out: Io['stdout'], user: adminUsers.UserView): void {
  for (const [key, value] of Object.entries(user)) {
    writeLine(out, `${key.padEnd(14)} ${fieldText(key, value)}`);
  }
}

function state(user: adminUsers.UserView, now: number): string {
  if (user.disabled_at) return 'disabled';
  if (user.locked_at) return 'locked';
  if (user.locked_until && Date.parse(user.locked_until) > now) return 'locked for now';
  return 'active';
}

export async function runUsersCreate(
  options: UsersCreateOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  const { username } = options;
  adminUsers.checkUsername(username);
  const password = options.passwordStdin
    ? adminUsers.checkPassword(await readPasswordFromStdin(deps))
    : undefined;
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const created = await adminUsers.createUser(
      admin,
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
      writeJson(deps, {
        ...created.user,
        ...(created.password !== undefined ? { password: created.password } : {}),
        ...(created.totpSecret !== undefined
          ? { totp_secret: created.totpSecret, totp_uri: created.totpUri }
          : {}),
      });
    } else {
      printUser(deps.stdout, created.user);
      if (created.password !== undefined)
        writeLine(deps.stdout, `${'password'.padEnd(14)} ${created.password}`);
      if (created.totpSecret !== undefined) {
        writeLine(deps.stdout, `${'totp_secret'.padEnd(14)} ${created.totpSecret}`);
        writeLine(deps.stdout, `${'totp_uri'.padEnd(14)} ${created.totpUri}`);
      }
    }
    const shown = [
      created.password !== undefined ? 'password' : null,
      created.totpSecret !== undefined ? 'TOTP secret' : null,
    ].filter((s) => s !== null);
    if (shown.length > 0) {
      writeLine(
        deps.stderr,
        `Give the ${shown.join(' and the ')} to ${username} now: ${shown.length > 1 ? 'they are' : 'it is'} shown only this once.`,
      );
    }
  });
}

export async function runUsersList(
  options: UsersListOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'clock' | 'openAdmin'>,
): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin }) => {
    const all = await adminUsers.listUsers(admin);
    if (options.json) return writeJson(deps, all);
    const now = deps.clock();
    writeLine(
      deps.stdout,
      `${'ID'.padEnd(26)} ${'USERNAME'.padEnd(24)} ${'MFA'.padEnd(5)} ${'ADMIN'.padEnd(5)} STATE`,
    );
    for (const u of all) {
      writeLine(
        deps.stdout,
        `${u.id.padEnd(26)} ${u.username.padEnd(24)} ${(u.has_totp ? 'totp' : '-').padEnd(5)} ${(u.is_admin ? 'yes' : '-').padEnd(5)} ${state(u, now)}`,
      );
    }
  });
}

export async function runUsersShow(
  options: UserOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'openAdmin'>,
): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin }) => {
    const user = await adminUsers.showUser(admin, options.user);
    const passkeys = await adminUsers.showUserPasskeys(admin, user.id);
    if (options.json) writeJson(deps, { ...user, passkeys });
    else {
      printUser(deps.stdout, user);
      // One line per passkey: its name, kind and use; never the public key.
      writeLine(deps.stdout, `${'passkeys'.padEnd(14)} ${passkeys.length ? '' : '-'}`.trimEnd());
      for (const p of passkeys) {
        const state = p.disabled_at ? `disabled (${String(p.disabled_reason)})` : 'active';
        writeLine(
          deps.stdout,
          `  ${String(p.name)}  ${String(p.device_type)}  created ${String(p.created_at)}  last used ${p.last_used_at ?? 'never'}  ${state}`,
        );
      }
    }
  });
}

export async function runUsersDisable(
  options: ConfirmedUserOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  await confirm(
    deps,
    { action: `disable ${options.user}`, consequence: 'Their tokens are revoked.' },
    options.yes,
  );
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const { user, revokedFamilies } = await adminUsers.disableUser(admin, options.user, actor);
    if (options.json) writeJson(deps, { ...user, revoked_families: revokedFamilies });
    else
      writeLine(
        deps.stderr,
        `Disabled ${user.username}; revoked ${revokedFamilies} refresh-token ${revokedFamilies === 1 ? 'family' : 'families'}.`,
      );
  });
}

export async function runUsersResetMfa(options: UserOptions, deps: Deps): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const user = await adminUsers.resetMfa(admin, options.user, actor);
    if (options.json) writeJson(deps, user);
    else writeLine(deps.stderr, `Removed the second factor of ${user.username}.`);
  });
}

export async function runUsersUnlock(options: UserOptions, deps: Deps): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const user = await adminUsers.unlockUser(admin, options.user, actor);
    if (options.json) writeJson(deps, user);
    else writeLine(deps.stderr, `Unlocked ${user.username}.`);
  });
}

export async function runUsersEnable(options: UserOptions, deps: Deps): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const user = await adminUsers.enableUser(admin, options.user, actor);
    if (options.json) writeJson(deps, user);
    else writeLine(deps.stderr, `Enabled ${user.username}.`);
  });
}

export async function runUsersSetPassword(
  options: UsersSetPasswordOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  const given = options.passwordStdin
    ? adminUsers.checkPassword(await readPasswordFromStdin(deps))
    : undefined;
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const { user, password } = await adminUsers.setPassword(
      admin,
      options.user,
      given !== undefined ? { password: given } : {},
      actor,
    );
    if (options.json) writeJson(deps, { ...user, ...(password !== undefined ? { password } : {}) });
    else if (password !== undefined) writeLine(deps.stdout, password);
    if (password !== undefined)
      writeLine(
        deps.stderr,
        `Give this one-time password to ${user.username} now: it is shown only this once, and replaced at their next sign-in.`,
      );
    else if (!options.json) writeLine(deps.stderr, `Set the password of ${user.username}.`);
  });
}

export async function runUsersSetScopes(options: UsersSetScopesOptions, deps: Deps): Promise<void> {
  if (options.scope.length === 0) throw new CliError('give at least one --scope');
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const user = await adminUsers.setScopes(admin, options.user, options.scope, actor);
    if (options.json) writeJson(deps, user);
    else
      writeLine(deps.stderr, `The API keys of ${user.username} may carry: ${(user.scopes ?? []).join(' ')}.`);
  });
}

export async function runUsersSessions(
  options: UserOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'openAdmin'>,
): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin }) => {
    const { sessions } = await adminUsers.listSessions(admin, options.user);
    if (options.json) return writeJson(deps, sessions);
    writeLine(
      deps.stdout,
      `${'FAMILY_ID'.padEnd(22)} ${'CLIENT_ID'.padEnd(20)} ${'CREATED'.padEnd(24)} ${'LAST_USED'.padEnd(24)} EXPIRES`,
    );
    for (const s of sessions) {
      writeLine(
        deps.stdout,
        `${s.family_id.padEnd(22)} ${s.client_id.padEnd(20)} ${s.created_at.padEnd(24)} ${(s.last_used_at ?? '-').padEnd(24)} ${s.expires_at}`,
      );
    }
  });
}

export async function runUsersRevokeSessions(
  options: ConfirmedUserOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  await confirm(
    deps,
    { action: `sign ${options.user} out everywhere`, consequence: 'Every refresh token is revoked.' },
    options.yes,
  );
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const { user, revokedFamilies } = await adminUsers.revokeSessions(admin, options.user, actor);
    if (options.json) writeJson(deps, { user: user.username, revoked_families: revokedFamilies });
    else
      writeLine(
        deps.stderr,
        `Revoked ${revokedFamilies} refresh-token ${revokedFamilies === 1 ? 'family' : 'families'} of ${user.username}.`,
      );
  });
}
