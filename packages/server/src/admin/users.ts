/**
 * Administering people: create (with a generated or given password, optionally a TOTP second factor),
 * list, show, disable, enable, set a password or the key scope ceiling, list and revoke sessions, reset
 * the second factor, unlock. Shared by `clavis admin --db` and (later) the admin API. Every change commits
 * with its audit record; a password or TOTP secret is returned once, by `createUser` or `setPassword`, and
 * never appears in a view, a log line or an audit record. A generated password is one-time.
 */
import { isScopeToken } from '@clavis/core';
import type { Kysely } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import { generatePassword, hashPassword } from '../crypto/passwords.js';
import { randomId } from '../crypto/secrets.js';
import { listLiveFamilies, revokeFamily } from '../refresh/refresh_store.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Database } from '../storage/schema.js';
import { listPasskeys, passkeyView, removePasskeys } from '../users/passkeys.js';
import { sealTotpSecret } from '../users/totp_secret.js';
import {
  clearLockout,
  clearSecondFactor,
  findUsernameIgnoringCase,
  findUserSummary,
  insertUser,
  listUserSummaries,
  markUserDisabled,
  markUserEnabled,
  setPasswordHash,
  setUserScopes,
  type UserSummaryRow,
} from '../users/user_store.js';
import { type Actor, actorFields, recordingRefusal } from './actor.js';
import type { AdminDeps } from './clients.js';
import { AdminError } from './errors.js';

export type UserAdminDeps = Pick<AdminDeps, 'db' | 'audit' | 'clock'> & {
  /** Seals TOTP secrets at rest (`services.totpKey`). */
  totpKey: Buffer;
};

/** The issuer shown in authenticator apps, and the TOTP parameters every app understands (RFC 6238). */
export const TOTP_ISSUER = 'Clavis';
export const TOTP_PARAMS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

/** 1 to 64 characters of A-Z a-z 0-9 . _ @ - */
const usernamePattern = /^[A-Za-z0-9._@-]{1,64}$/;

/** A person as administrators see them: no password hash, no TOTP secret. */
export interface UserView {
  id: string;
  username: string;
  is_admin: boolean;
  has_totp: boolean;
  /** At least one usable passkey (a second factor, and a phishing-resistant one). */
  has_passkey: boolean;
  created_at: string;
  disabled_at: string | null;
  /** The hard lock at the failure bound (lifted only by `users unlock`). */
  locked_at: string | null;
  /** The end of the latest temporary lock from consecutive failures (past: no longer locked). */
  locked_until: string | null;
  failed_logins: number;
  failed_mfa: number;
  /** The scope ceiling of the person's API keys; null = none set (the admin decides). */
  scopes: string[] | null;
  /** The password is one-time: the person must replace it at their next sign-in. */
  must_change_password: boolean;
}

export interface CreateUserInput {
  username: string;
  /** The person's password; default: a generated one, returned once. */
  password?: string;
  /** Enrol a TOTP second factor now; the secret is returned once. */
  totp?: boolean;
  isAdmin?: boolean;
  /** The scope ceiling of the person's API keys. */
  scopes?: string[];
}

export interface CreatedUser {
  user: UserView;
  /** Present only when the password was generated. */
  password?: string;
  /** Present only with `totp: true`: base32, and the `otpauth://` URI for a QR code. */
  totpSecret?: string;
  totpUri?: string;
}

function invalid(message: string): never {
  throw new AdminError(message, 'invalid_input');
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString();
}

function toView(row: UserSummaryRow): UserView {
  return {
    id: row.id,
    username: row.username,
    is_admin: Number(row.is_admin) === 1,
    has_totp: Number(row.has_totp) === 1,
    has_passkey: Number(row.has_passkey) === 1,
    created_at: iso(row.created_at) ?? '',
    disabled_at: iso(row.disabled_at),
    locked_at: iso(row.locked_at),
    locked_until: iso(row.locked_until ?? null),
    failed_logins: Number(row.failed_logins),
    failed_mfa: Number(row.failed_mfa),
    scopes: row.scopes ? (JSON.parse(row.scopes) as string[]) : null,
    must_change_password: Number(row.must_change_password) === 1,
  };
}

/** A checked username, or an `invalid_input` error saying what is wrong with it. */
export function checkUsername(username: string): string {
  if (!usernamePattern.test(username)) invalid('username must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -');
  // `show`/`disable` accept a name or an id: a name must never read as another person's id.
  if (username.toLowerCase().startsWith('usr_')) invalid('username must not start with usr_');
  return username;
}

/** A checked password (length in characters, after the NFKC normalisation hashing applies). */
export function checkPassword(password: string): string {
  const length = [...password.normalize('NFKC')].length;
  if (length === 0) invalid('the password is empty');
  if (length < PASSWORD_MIN_LENGTH)
    invalid(`the password must be at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) invalid(`the password must be at most ${PASSWORD_MAX_LENGTH} characters`);
  return password;
}

/** A person's API-key scope ceiling, checked and deduplicated. */
export function checkScopes(scopes: readonly string[]): string[] {
  for (const s of scopes)
    if (!isScopeToken(s)) invalid(`scope ${JSON.stringify(s.slice(0, 64))} is malformed`);
  if (scopes.includes('keys:mint')) invalid("keys:mint cannot be part of a person's key ceiling");
  return [...new Set(scopes)];
}

/** A fresh TOTP enrolment for `username`: the base32 secret and its `otpauth://` URI. */
export function newTotp(username: string): { secret: string; uri: string } {
  const secret = new Secret({ size: 20 });
  const totp = new TOTP({ issuer: TOTP_ISSUER, label: username, secret, ...TOTP_PARAMS });
  return { secret: secret.base32, uri: totp.toString() };
}

export function createUser(deps: UserAdminDeps, input: CreateUserInput, actor: Actor): Promise<CreatedUser> {
  return recordingRefusal(
    deps.audit,
    {
      event: 'user.create',
      actor,
      clientId: null,
      target: { username: String(input.username).slice(0, 64) },
    },
    () => createUserUnrecorded(deps, input, actor),
  );
}

async function createUserUnrecorded(
  deps: UserAdminDeps,
  input: CreateUserInput,
  actor: Actor,
): Promise<CreatedUser> {
  const username = checkUsername(input.username);
  const generated = input.password === undefined ? generatePassword() : undefined;
  const password = generated ?? checkPassword(input.password ?? '');

  // A friendly early answer; the unique index on lower(username) is what decides under concurrency
  // (the insert below then fails, and gets the same answer).
  const taken = await findUsernameIgnoringCase(deps.db, username);
  if (taken !== undefined) throw new AdminError(`a user named ${taken} already exists`, 'conflict');
  // CC-02: people and clients share the `sub` claim's namespace; a name may not be mistaken for a client.
  const client = await deps.db
    .selectFrom('clients')
    .select('id')
    .where('id', '=', username)
    .executeTakeFirst();
  if (client) invalid(`username ${username} is a client's client_id; choose another`);

  const scopes = input.scopes === undefined ? null : checkScopes(input.scopes);
  const totp = input.totp ? newTotp(username) : undefined;
  const passwordHash = await hashPassword(password);
  const id = randomId('usr_');
  const now = deps.clock();
  try {
    await deps.audit.transact(
      async (tx) => {
        await insertUser(tx, {
          id,
          username,
          password_hash: passwordHash,
          is_admin: input.isAdmin ? 1 : 0,
          // A generated password travels through the administrator: the person replaces it at first
          // sign-in, as the bootstrap administrator does.
          must_change_password: generated ? 1 : 0,
          totp_secret: totp ? sealTotpSecret(deps.totpKey, id, totp.secret) : null,
          created_at: now,
          disabled_at: null,
          locked_at: null,
          totp_last_step: null,
          scopes: scopes === null ? null : JSON.stringify(scopes),
        });
      },
      {
        event: 'user.create',
        ...actorFields(actor),

        detail: {
          user_id: id,
          username,
          is_admin: input.isAdmin === true,
          totp: totp !== undefined,
          password: generated ? 'generated' : 'given',
          ...(scopes !== null ? { scopes } : {}),
        },
      },
    );
  } catch (err) {
    if (isUniqueViolation(err)) throw new AdminError(`a user named ${username} already exists`, 'conflict');
    throw err;
  }
  const user = await showUser(deps, id);
  return {
    user,
    ...(generated ? { password: generated } : {}),
    ...(totp ? { totpSecret: totp.secret, totpUri: totp.uri } : {}),
  };
}

export async function listUsers(deps: Pick<AdminDeps, 'db'>): Promise<UserView[]> {
  const rows = await listUserSummaries(deps.db);
  return rows.map(toView);
}

/** The person named `nameOrId` (a username or a `usr_…` id). */
export async function showUser(deps: Pick<AdminDeps, 'db'>, nameOrId: string): Promise<UserView> {
  const row = await findUserSummary(deps.db, nameOrId);
  if (!row) throw new AdminError(`no user ${nameOrId.slice(0, 64)}`, 'not_found');
  return toView(row);
}

/**
 * Ends everything a person is signed in with, in the caller's transaction: device requests they approved
 * but that were not yet redeemed are withdrawn; every refresh-token family they hold is revoked (with
 * `reason`) with the unexpired access tokens it produced; their browser sessions end. Returns how many
 * families it revoked.
 */
async function endEverySession(
  tx: Kysely<Database>,
  userId: string,
  reason: string,
  now: number,
): Promise<number> {
  // First, an approval not yet redeemed would still mint tokens for them: withdraw it (the poll then gets
  // access_denied). Redemption needs status 'approved', so this and a concurrent redemption exclude each
  // other: on PostgreSQL this statement waits for a redemption in flight to commit, so the families read
  // below (each statement sees what committed before it) include the one it made.
  await tx
    .updateTable('device_codes')
    .set({ status: 'denied', decided_at: now })
    .where('user_id', '=', userId)
    .where('status', '=', 'approved')
    .execute();
  const families = await tx
    .selectFrom('token_families')
    .select('id')
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
  let revoked = 0;
  for (const f of families) if (await revokeFamily(tx, f.id, reason, now)) revoked += 1;
  await tx.deleteFrom('sessions').where('user_id', '=', userId).execute();
  return revoked;
}

/**
 * Disables a person: they can no longer sign in; their browser sessions end; device requests they
 * approved but that were not yet redeemed are withdrawn; every refresh-token family they hold is revoked
 * (reason `user_disabled`) with the unexpired access tokens it produced — all in the transaction that
 * records it.
 */
export function disableUser(
  deps: UserAdminDeps,
  nameOrId: string,
  actor: Actor,
): Promise<{ user: UserView; revokedFamilies: number }> {
  return recordingRefusal(
    deps.audit,
    { event: 'user.disable', actor, clientId: null, target: { user: nameOrId.slice(0, 64) } },
    () => disableUserUnrecorded(deps, nameOrId, actor),
  );
}

async function disableUserUnrecorded(
  deps: UserAdminDeps,
  nameOrId: string,
  actor: Actor,
): Promise<{ user: UserView; revokedFamilies: number }> {
  const target = await showUser(deps, nameOrId);
  const now = deps.clock();
  const revokedFamilies = await deps.audit.transact(
    async (tx) => {
      if (!(await markUserDisabled(tx, target.id, now)))
        throw new AdminError(`user ${target.username} is already disabled`, 'conflict');
      const revoked = await endEverySession(tx, target.id, 'user_disabled', now);
      return revoked;
    },
    (revoked) => ({
      event: 'user.disable',
      ...actorFields(actor),

      detail: { user_id: target.id, username: target.username, revoked_families: revoked },
    }),
  );
  return { user: await showUser(deps, target.id), revokedFamilies };
}

/** The person's passkeys and security keys, as admin commands print them (never a public key). */
export async function showUserPasskeys(
  deps: Pick<AdminDeps, 'db'>,
  nameOrId: string,
): Promise<Record<string, unknown>[]> {
  const target = await showUser(deps, nameOrId);
  return (await listPasskeys(deps.db, target.id)).map(passkeyView);
}

/** A person with their passkeys (never a public key): what `users show` prints. */
export type UserDetail = UserView & { passkeys: Record<string, unknown>[] };

export async function showUserDetail(deps: Pick<AdminDeps, 'db'>, nameOrId: string): Promise<UserDetail> {
  const user = await showUser(deps, nameOrId);
  return { ...user, passkeys: (await listPasskeys(deps.db, user.id)).map(passkeyView) };
}

/**
 * Removes a person's second factors (TOTP secret, passkeys and recovery codes) and clears an MFA lock, so they can
 * enrol again at their next sign-in. Their password is unchanged.
 */
export function resetMfa(deps: UserAdminDeps, nameOrId: string, actor: Actor): Promise<UserView> {
  return recordingRefusal(
    deps.audit,
    { event: 'user.reset_mfa', actor, clientId: null, target: { user: nameOrId.slice(0, 64) } },
    () => resetMfaUnrecorded(deps, nameOrId, actor),
  );
}

async function resetMfaUnrecorded(deps: UserAdminDeps, nameOrId: string, actor: Actor): Promise<UserView> {
  const target = await showUser(deps, nameOrId);
  await deps.audit.transact(
    async (tx) => {
      await clearSecondFactor(tx, target.id);
      const deleted = await tx
        .deleteFrom('recovery_codes')
        .where('user_id', '=', target.id)
        .executeTakeFirst();
      return { codes: Number(deleted.numDeletedRows), passkeys: await removePasskeys(tx, target.id) };
    },
    ({ codes: recoveryCodes, passkeys }) => ({
      event: 'user.reset_mfa',
      ...actorFields(actor),

      detail: {
        user_id: target.id,
        username: target.username,
        had_totp: target.has_totp,
        recovery_codes_deleted: recoveryCodes,
        passkeys_deleted: passkeys,
      },
    }),
  );
  return showUser(deps, target.id);
}

/** Clears a lock from failed sign-ins or codes (temporary or hard), and the failure counters. */
export function unlockUser(deps: UserAdminDeps, nameOrId: string, actor: Actor): Promise<UserView> {
  return recordingRefusal(
    deps.audit,
    { event: 'user.unlock', actor, clientId: null, target: { user: nameOrId.slice(0, 64) } },
    () => unlockUserUnrecorded(deps, nameOrId, actor),
  );
}

async function unlockUserUnrecorded(deps: UserAdminDeps, nameOrId: string, actor: Actor): Promise<UserView> {
  const target = await showUser(deps, nameOrId);
  await deps.audit.transact(
    async (tx) => {
      await clearLockout(tx, target.id);
    },
    {
      event: 'user.unlock',
      ...actorFields(actor),

      detail: {
        user_id: target.id,
        username: target.username,
        was_locked: target.locked_at !== null,
        ...(target.locked_until !== null ? { locked_until: target.locked_until } : {}),
        failed_logins: target.failed_logins,
        failed_mfa: target.failed_mfa,
      },
    },
  );
  return showUser(deps, target.id);
}

/** Lets a disabled person sign in again. What disabling revoked stays revoked. */
export function enableUser(deps: UserAdminDeps, nameOrId: string, actor: Actor): Promise<UserView> {
  return recordingRefusal(
    deps.audit,
    { event: 'user.enable', actor, clientId: null, target: { user: nameOrId.slice(0, 64) } },
    async () => {
      const target = await showUser(deps, nameOrId);
      await deps.audit.transact(
        async (tx) => {
          if (!(await markUserEnabled(tx, target.id)))
            throw new AdminError(`user ${target.username} is not disabled`, 'conflict');
        },
        {
          event: 'user.enable',
          ...actorFields(actor),
          detail: { user_id: target.id, username: target.username },
        },
      );
      return showUser(deps, target.id);
    },
  );
}

/**
 * Sets a person's password: the one given (checked as at creation), or a generated one returned once,
 * which is one-time (the person replaces it at their next sign-in). Their browser sessions end, so a
 * page signed in with the old password cannot go on; their refresh tokens are kept (`revokeSessions`).
 */
export function setPassword(
  deps: UserAdminDeps,
  nameOrId: string,
  input: { password?: string },
  actor: Actor,
): Promise<{ user: UserView; password?: string }> {
  return recordingRefusal(
    deps.audit,
    { event: 'user.set_password', actor, clientId: null, target: { user: nameOrId.slice(0, 64) } },
    async () => {
      const generated = input.password === undefined ? generatePassword() : undefined;
      const password = generated ?? checkPassword(input.password ?? '');
      const target = await showUser(deps, nameOrId);
      const hash = await hashPassword(password);
      await deps.audit.transact(
        async (tx) => {
          await setPasswordHash(tx, target.id, hash, generated !== undefined);
          await tx.deleteFrom('sessions').where('user_id', '=', target.id).execute();
        },
        {
          event: 'user.set_password',
          ...actorFields(actor),
          detail: {
            user_id: target.id,
            username: target.username,
            password: generated ? 'generated' : 'given',
            one_time: generated !== undefined,
          },
        },
      );
      return { user: await showUser(deps, target.id), ...(generated ? { password: generated } : {}) };
    },
  );
}

/**
 * Replaces the scope ceiling of a person's API keys. A narrower ceiling narrows their live keys at once
 * (a key carries only what is still within it); null removes the ceiling (the administrator decides).
 */
export function setScopes(
  deps: UserAdminDeps,
  nameOrId: string,
  scopes: readonly string[] | null,
  actor: Actor,
): Promise<UserView> {
  return recordingRefusal(
    deps.audit,
    { event: 'user.set_scopes', actor, clientId: null, target: { user: nameOrId.slice(0, 64) } },
    async () => {
      const checked = scopes === null ? null : checkScopes(scopes);
      const target = await showUser(deps, nameOrId);
      await deps.audit.transact((tx) => setUserScopes(tx, target.id, checked), {
        event: 'user.set_scopes',
        ...actorFields(actor),
        detail: { user_id: target.id, username: target.username, from: target.scopes, to: checked },
      });
      return showUser(deps, target.id);
    },
  );
}

/** A person's live refresh-token family, as administrators see it (never a token). */
export interface SessionView {
  family_id: string;
  client_id: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string;
}

/** The person's live refresh-token families (each a signed-in CLI), oldest first. */
export async function listSessions(
  deps: Pick<UserAdminDeps, 'db' | 'clock'>,
  nameOrId: string,
): Promise<{ user: UserView; sessions: SessionView[] }> {
  const user = await showUser(deps, nameOrId);
  const families = await listLiveFamilies(deps.db, user.id, deps.clock());
  return {
    user,
    sessions: families.map((f) => ({
      family_id: f.id,
      client_id: f.client_id,
      scopes: f.scopes,
      created_at: iso(f.created_at) ?? '',
      last_used_at: iso(f.last_used_at),
      expires_at: iso(f.expires_at) ?? '',
    })),
  };
}

/**
 * Signs a person out everywhere, as disabling does but leaving them able to sign in again: every
 * refresh-token family is revoked (reason `admin_revoked`) with its unexpired access tokens, approvals
 * not yet redeemed are withdrawn, browser sessions end.
 */
export function revokeSessions(
  deps: UserAdminDeps,
  nameOrId: string,
  actor: Actor,
): Promise<{ user: UserView; revokedFamilies: number }> {
  return recordingRefusal(
    deps.audit,
    { event: 'user.revoke_sessions', actor, clientId: null, target: { user: nameOrId.slice(0, 64) } },
    async () => {
      const target = await showUser(deps, nameOrId);
      const now = deps.clock();
      const revokedFamilies = await deps.audit.transact(
        (tx) => endEverySession(tx, target.id, 'admin_revoked', now),
        (revoked) => ({
          event: 'user.revoke_sessions',
          ...actorFields(actor),
          detail: { user_id: target.id, username: target.username, revoked_families: revoked },
        }),
      );
      return { user: await showUser(deps, target.id), revokedFamilies };
    },
  );
}
