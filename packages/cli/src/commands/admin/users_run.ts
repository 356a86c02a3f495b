/**
 * The work of `clavis admin users create|list|show|disable|enable|set-password|set-scopes|sessions|
 * revoke-sessions|reset-mfa|unlock`.
 */
import { adminUsers } from '@clavis/server';
import { confirm } from '../../confirm.js';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { type OperationsDeps, type UserView, withAdmin } from './operations.js';
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

type Deps = Pick<AdminRunDeps, 'stdout' | 'stderr'> & OperationsDeps;

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

/** A person's fields, without what only a create or a password reset returns once. */
const ONCE = new Set(['password', 'totp_secret', 'totp_uri', 'revoked_families']);

function printUser(out: Io['stdout'], user: UserView): void {
  for (const [key, value] of Object.entries(user)) {
    if (ONCE.has(key)) continue;
    writeLine(out, `${key.padEnd(14)} ${fieldText(key, value)}`);
  }
}

function state(user: UserView, now: number): string {
  if (user.disabled_at) return 'disabled';
  if (user.locked_at) return 'locked';
  if (user.locked_until && Date.parse(user.locked_until) > now) return 'locked for now';
  return 'active';
}

export async function runUsersCreate(options: UsersCreateOptions, deps: Deps): Promise<void> {
  const { username } = options;
  adminUsers.checkUsername(username);
  const password = options.passwordStdin
    ? adminUsers.checkPassword(await readPasswordFromStdin(deps))
    : undefined;
  const created = await withAdmin(options, deps, (ops) =>
    ops.createUser({
      username,
      ...(password !== undefined ? { password } : {}),
      totp: options.totp === true,
      isAdmin: options.admin === true,
      ...(options.scope.length ? { scopes: options.scope } : {}),
    }),
  );
  if (options.json) {
    writeJson(deps, created);
  } else {
    printUser(deps.stdout, created);
    if (created.password !== undefined)
      writeLine(deps.stdout, `${'password'.padEnd(14)} ${created.password}`);
    if (created.totp_secret !== undefined) {
      writeLine(deps.stdout, `${'totp_secret'.padEnd(14)} ${created.totp_secret}`);
      writeLine(deps.stdout, `${'totp_uri'.padEnd(14)} ${created.totp_uri}`);
    }
  }
  const shown = [
    created.password !== undefined ? 'password' : null,
    created.totp_secret !== undefined ? 'TOTP secret' : null,
  ].filter((s) => s !== null);
  if (shown.length > 0) {
    writeLine(
      deps.stderr,
      `Give the ${shown.join(' and the ')} to ${username} now: ${shown.length > 1 ? 'they are' : 'it is'} shown only this once.`,
    );
  }
}

/** The second factors a person has: `totp`, `passkey`, `totp+passkey`, or `-`. */
function mfa(user: { has_totp: boolean; has_passkey: boolean }): string {
  const factors = [user.has_totp ? 'totp' : null, user.has_passkey ? 'passkey' : null].filter(Boolean);
  return factors.length === 0 ? '-' : factors.join('+');
}

export async function runUsersList(
  options: UsersListOptions,
  deps: Deps & Pick<AdminRunDeps, 'clock'>,
): Promise<void> {
  const all = await withAdmin(options, deps, (ops) => ops.listUsers());
  if (options.json) return writeJson(deps, all);
  const now = deps.clock();
  writeLine(
    deps.stdout,
    `${'ID'.padEnd(26)} ${'USERNAME'.padEnd(24)} ${'MFA'.padEnd(12)} ${'ADMIN'.padEnd(5)} STATE`,
  );
  for (const u of all) {
    writeLine(
      deps.stdout,
      `${u.id.padEnd(26)} ${u.username.padEnd(24)} ${mfa(u).padEnd(12)} ${(u.is_admin ? 'yes' : '-').padEnd(5)} ${state(u, now)}`,
    );
  }
}

export async function runUsersShow(options: UserOptions, deps: Deps): Promise<void> {
  const user = await withAdmin(options, deps, (ops) => ops.showUser(options.user));
  if (options.json) return writeJson(deps, user);
  const { passkeys, ...person } = user;
  printUser(deps.stdout, person);
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

export async function runUsersDisable(options: ConfirmedUserOptions, deps: Deps): Promise<void> {
  await confirm(
    deps,
    { action: `disable ${options.user}`, consequence: 'Their tokens are revoked.' },
    options.yes,
  );
  const user = await withAdmin(options, deps, (ops) => ops.disableUser(options.user));
  const families = user.revoked_families;
  if (options.json) writeJson(deps, user);
  else
    writeLine(
      deps.stderr,
      `Disabled ${user.username}; revoked ${families} refresh-token ${families === 1 ? 'family' : 'families'}.`,
    );
}

export async function runUsersResetMfa(options: UserOptions, deps: Deps): Promise<void> {
  const user = await withAdmin(options, deps, (ops) => ops.resetMfa(options.user));
  if (options.json) writeJson(deps, user);
  else writeLine(deps.stderr, `Removed the second factor of ${user.username}.`);
}

export async function runUsersUnlock(options: UserOptions, deps: Deps): Promise<void> {
  const user = await withAdmin(options, deps, (ops) => ops.unlockUser(options.user));
  if (options.json) writeJson(deps, user);
  else writeLine(deps.stderr, `Unlocked ${user.username}.`);
}

export async function runUsersEnable(options: UserOptions, deps: Deps): Promise<void> {
  const user = await withAdmin(options, deps, (ops) => ops.enableUser(options.user));
  if (options.json) writeJson(deps, user);
  else writeLine(deps.stderr, `Enabled ${user.username}.`);
}

export async function runUsersSetPassword(options: UsersSetPasswordOptions, deps: Deps): Promise<void> {
  const given = options.passwordStdin
    ? adminUsers.checkPassword(await readPasswordFromStdin(deps))
    : undefined;
  const user = await withAdmin(options, deps, (ops) =>
    ops.setPassword(options.user, given !== undefined ? { password: given } : {}),
  );
  const { password } = user;
  if (options.json) writeJson(deps, user);
  else if (password !== undefined) writeLine(deps.stdout, password);
  if (password !== undefined)
    writeLine(
      deps.stderr,
      `Give this one-time password to ${user.username} now: it is shown only this once, and replaced at their next sign-in.`,
    );
  else if (!options.json) writeLine(deps.stderr, `Set the password of ${user.username}.`);
}

export async function runUsersSetScopes(options: UsersSetScopesOptions, deps: Deps): Promise<void> {
  if (options.scope.length === 0) throw new CliError('give at least one --scope');
  const user = await withAdmin(options, deps, (ops) => ops.setScopes(options.user, options.scope));
  if (options.json) writeJson(deps, user);
  else
    writeLine(deps.stderr, `The API keys of ${user.username} may carry: ${(user.scopes ?? []).join(' ')}.`);
}

export async function runUsersSessions(options: UserOptions, deps: Deps): Promise<void> {
  const sessions = await withAdmin(options, deps, (ops) => ops.listSessions(options.user));
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
}

export async function runUsersRevokeSessions(options: ConfirmedUserOptions, deps: Deps): Promise<void> {
  await confirm(
    deps,
    { action: `sign ${options.user} out everywhere`, consequence: 'Every refresh token is revoked.' },
    options.yes,
  );
  const result = await withAdmin(options, deps, (ops) => ops.revokeSessions(options.user));
  const families = result.revoked_families;
  if (options.json) writeJson(deps, result);
  else
    writeLine(
      deps.stderr,
      `Revoked ${families} refresh-token ${families === 1 ? 'family' : 'families'} of ${result.user}.`,
    );
}
