/**
 * First start on an empty database: the admin user (with a one-time password, or
 * `CLAVIS_ADMIN_PASSWORD`) and the built-in public client `clavis-cli` that the CLI's own login uses.
 * Runs once across every instance: the `bootstrapped` setting is claimed in the same transaction.
 */
import { GrantType } from '@clavis/core';
import { CLI_CLIENT_ID } from '../clients/client.js';
import { generatePassword, hashPassword } from '../crypto/passwords.js';
import { randomId } from '../crypto/secrets.js';
import { insertUser } from '../users/user_store.js';
import type { Services } from './services.js';

const ADMIN_USERNAME = 'admin';

export interface BootstrapResult {
  created: boolean;
  adminUsername: string;
  /** Present only when this call created the admin and generated the password. */
  oneTimePassword?: string;
  /**
   * On a later start: the admin still has to replace a one-time password, which this start cannot show
   * again (it may have been lost: `users set-password` sets a new one).
   */
  adminPasswordPending?: boolean;
}

async function adminPasswordPending(services: Pick<Services, 'db'>): Promise<boolean> {
  const admin = await services.db
    .selectFrom('users')
    .select(['must_change_password', 'disabled_at'])
    .where('username', '=', ADMIN_USERNAME)
    .executeTakeFirst();
  return admin?.must_change_password === 1 && admin.disabled_at === null;
}

export async function bootstrap(
  services: Pick<Services, 'db' | 'audit' | 'clock'>,
  options: { adminPassword?: string | undefined },
): Promise<BootstrapResult> {
  const already = await services.db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', 'bootstrapped')
    .executeTakeFirst();
  if (already)
    return {
      created: false,
      adminUsername: ADMIN_USERNAME,
      adminPasswordPending: await adminPasswordPending(services),
    };
  const password = options.adminPassword || generatePassword();
  const passwordHash = await hashPassword(password);
  const now = services.clock();
  const adminId = randomId('usr_');
  const created = await services.audit.transact(
    async (tx) => {
      const claim = await tx
        .insertInto('settings')
        .values({ key: 'bootstrapped', value: new Date(now).toISOString() })
        .onConflict((oc) => oc.column('key').doNothing())
        .executeTakeFirst();
      if ((claim.numInsertedOrUpdatedRows ?? 0n) === 0n) return false;
      await insertUser(tx, {
        id: adminId,
        username: ADMIN_USERNAME,
        password_hash: passwordHash,
        is_admin: 1,
        must_change_password: options.adminPassword ? 0 : 1,
        totp_secret: null,
        created_at: now,
        disabled_at: null,
      });
      await tx
        .insertInto('clients')
        .values({
          id: CLI_CLIENT_ID,
          name: 'Clavis CLI',
          owner: null,
          kind: 'public',
          auth_method: 'none',
          grant_types: JSON.stringify([GrantType.DeviceCode, GrantType.RefreshToken]),
          // `admin` stays in the ceiling: each person's share is decided per person at approval
          // (users/entitlements.ts), so only an administrator who passed a second factor gets it, and
          // a request that names no scope gets `openid profile`.
          scopes: JSON.stringify(['openid', 'profile', 'admin']),
          audiences: JSON.stringify([]),
          jwks: null,
          jwks_uri: null,
          token_ttl: 600,
          created_at: now,
          created_by: 'system',
          disabled_at: null,
          // People signing in to the CLI always pass a second factor (enrolled on the page if need be).
          require_mfa: 1,
        })
        .execute();
      return true;
    },
    (didCreate) => ({
      event: 'server.bootstrap',
      actor: { type: 'system' },
      detail: didCreate
        ? { admin_user: adminId, client: CLI_CLIENT_ID }
        : { skipped: 'already bootstrapped' },
    }),
  );
  if (!created)
    return {
      created: false,
      adminUsername: ADMIN_USERNAME,
      adminPasswordPending: await adminPasswordPending(services),
    };
  return {
    created: true,
    adminUsername: ADMIN_USERNAME,
    ...(options.adminPassword ? {} : { oneTimePassword: password }),
  };
}
