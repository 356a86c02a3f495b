/**
 * People in tests: one factory that inserts a user row straight into storage (the users admin is under
 * test in its own files), with what the callers need — a password, a TOTP second factor, a scope
 * ceiling, a disabled or locked account.
 */
import type { Services } from '@clavis/server';
import { hashPassword } from '../../packages/server/src/crypto/passwords.js';
import { randomId } from '../../packages/server/src/crypto/secrets.js';
import { sealTotpSecret } from '../../packages/server/src/users/totp_secret.js';

export const PASSWORD = 'correct horse battery staple';
export const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

export interface UserOptions {
  /** Default: a fresh `usr_…` id. */
  id?: string;
  /** Default: `person-…`, unique. */
  username?: string;
  /** A password to hash into the row (e.g. PASSWORD); default none: tests that never sign in skip scrypt. */
  password?: string;
  /** A TOTP second factor: `true` for TOTP_SECRET, or a base32 secret of the test's own. */
  totp?: boolean | string;
  isAdmin?: boolean;
  /** The person's scope ceiling (null: none). */
  scopes?: string[] | null;
  /** Disabled: `true` at the clock's now, or at this time. */
  disabled?: boolean | number;
  /** Locked: `true` at the clock's now, or at this time. */
  locked?: boolean | number;
}

/** Anything holding the services and a clock: a TestServer, a PagesServer, a RealServer's parts. */
export interface UserHost {
  services: Pick<Services, 'db' | 'totpKey'>;
  clock: { now: number };
}

function at(value: boolean | number | undefined, now: number): number | null {
  if (value === undefined || value === false) return null;
  return value === true ? now : value;
}

/** Inserts a person; returns its id and username. */
export async function createUser(
  host: UserHost,
  options: UserOptions = {},
): Promise<{ id: string; username: string }> {
  const id = options.id ?? randomId('usr_', 12);
  const username =
    options.username ??
    `person-${id
      .slice(4)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x')}`;
  const now = host.clock.now;
  const totp = options.totp === true ? TOTP_SECRET : options.totp || undefined;
  await host.services.db
    .insertInto('users')
    .values({
      id,
      username,
      password_hash: options.password === undefined ? null : await hashPassword(options.password),
      is_admin: options.isAdmin ? 1 : 0,
      must_change_password: 0,
      totp_secret: totp ? sealTotpSecret(host.services.totpKey, id, totp) : null,
      created_at: now,
      disabled_at: at(options.disabled, now),
      locked_at: at(options.locked, now),
      totp_last_step: null,
      scopes: options.scopes ? JSON.stringify(options.scopes) : null,
    })
    .execute();
  return { id, username };
}

/** A user's row as stored. */
export function userRow(host: Pick<UserHost, 'services'>, id: string) {
  return host.services.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
