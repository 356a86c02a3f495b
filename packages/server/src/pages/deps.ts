import type { FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import type { FailureLog } from '../audit/failure_log.js';
import { findClient } from '../clients/client_store.js';
import type { ServerConfig } from '../config.js';
import type { SecretHasher } from '../crypto/secrets.js';
import type { UserCodesAtRest } from '../device/user_code_at_rest.js';
import type { UpstreamClients } from '../idps/upstream_client.js';
import type { Database, SessionRow, UserRow } from '../storage/schema.js';
import { hasPasskey, hasUsablePasskey } from '../users/passkeys.js';
import { findClaimedCode } from '../users/sessions.js';
import {
  findUserById,
  isUsable,
  LOCKOUT_BASE_MS,
  LOCKOUT_MAX_MS,
  type LockoutPolicy,
  lockOf,
} from '../users/user_store.js';
import { PAGE_CSP, PageError } from './page_http.js';

/** What every page needs: the configuration, the database, the key that signs cookies and forms. */
export interface PageDeps {
  config: ServerConfig;
  db: Kysely<Database>;
  /** Signs session cookies and enrolment forms: `kek.derive('cookie-signing')`. */
  cookieKey: Buffer;
  /** The stored form of user codes (device/user_code_at_rest.ts). */
  userCodes: UserCodesAtRest;
}

/** A page that records what a person did. */
export interface AuditedPageDeps extends PageDeps {
  audit: AuditLog;
}

/** A page that takes guesses (a user code, a password). */
export interface GuessingPageDeps extends AuditedPageDeps {
  /** Failed attempts are aggregated (and unknown usernames hashed) before they reach the audit log. */
  failures: FailureLog;
}

/** The second-factor pages: TOTP secrets and recovery codes. */
export interface SecondFactorPageDeps extends AuditedPageDeps {
  /** Keyed hashing for recovery codes (the server's secret hasher). */
  hasher: SecretHasher;
  /** Seals TOTP secrets at rest: `kek.derive('totp-sealing')`. */
  totpKey: Buffer;
  /** Opens them: `totpKey`, then the same key of previous KEKs (default: `totpKey` only). */
  totpOpenKeys?: readonly Buffer[] | undefined;
}

/** All the device pages, as the app registers them. */
export interface DevicePagesDeps extends GuessingPageDeps, SecondFactorPageDeps {
  /** Single sign-on through the configured identity providers; without it, none is offered. */
  upstream?: UpstreamClients | undefined;
}

/** Sends an HTML page with the pages' headers. */
export function sendPage(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-security-policy', PAGE_CSP)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(body);
}

/** A 303 to one of the pages' own fixed paths (never a URL taken from the request). */
type PagePath =
  | '/device'
  | '/device/login'
  | '/device/password'
  | '/device/mfa'
  | '/device/mfa/setup'
  | '/device/passkeys'
  | '/device/consent';

export function redirect(
  reply: FastifyReply,
  path: PagePath | `/device/done?outcome=${'approved' | 'denied'}`,
) {
  return reply.code(303).header('cache-control', 'no-store').header('location', path).send();
}

/** The page for an account that may not act now: disabled, locked for good, or locked for a while. */
export function accountUnusable(
  user: Pick<UserRow, 'disabled_at' | 'locked_at' | 'locked_until'>,
  now: number,
): PageError {
  if (user.disabled_at !== null)
    return new PageError(403, 'Account disabled', 'This account is disabled. Ask an administrator.');
  const lock = lockOf(user, now);
  if (lock?.kind === 'temporary') {
    const minutes = Math.max(1, Math.ceil((lock.until - now) / 60_000));
    return new PageError(
      403,
      'Account locked',
      `This account is locked for a while after too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
      { 'retry-after': String(Math.max(1, Math.ceil((lock.until - now) / 1000))) },
    );
  }
  return new PageError(
    403,
    'Account locked',
    'This account is locked after too many failed attempts. Ask an administrator to unlock it.',
  );
}

/** The signed-in user of a session, if still usable; throws the locked/disabled page otherwise. */
export async function sessionUser(
  deps: Pick<PageDeps, 'config' | 'db'>,
  session: SessionRow,
): Promise<UserRow | undefined> {
  if (!session.user_id) return undefined;
  const user = await findUserById(deps.db, session.user_id);
  if (!user) return undefined;
  const now = deps.config.clock();
  if (!isUsable(user, now)) throw accountUnusable(user, now);
  return user;
}

/** The lockout schedule the configuration asks for. */
export function lockoutPolicy(config: ServerConfig): LockoutPolicy {
  return {
    threshold: config.maxFailedSignIns,
    hardLimit: config.signInHardLockAfter,
    baseMs: LOCKOUT_BASE_MS,
    maxMs: LOCKOUT_MAX_MS,
  };
}

/** A passkey (WebAuthn) passed in this session: phishing-resistant, unlike a one-time code. */
export function passedPasskey(session: SessionRow): boolean {
  return session.mfa_at !== null && (session.mfa_method === 'hwk' || session.mfa_method === 'swk');
}

/**
 * Where a session goes next: enter a code, sign in, pass (or enrol) a second factor, or consent. A
 * user with a second factor (TOTP or a passkey) always passes it; a client that requires MFA makes a
 * user without one enrol one, and a client that requires a phishing-resistant one wants a passkey.
 */
export async function nextStep(
  deps: Pick<PageDeps, 'config' | 'db'>,
  session: SessionRow,
): Promise<PagePath> {
  const now = deps.config.clock();
  const code = await findClaimedCode(deps.db, session.id, now);
  const user = await sessionUser(deps, session);
  if (!user) return '/device/login';
  // A one-time password (the bootstrap admin's) is replaced before anything else.
  if (user.must_change_password === 1) return '/device/password';
  const passkey = await hasPasskey(deps.db, user.id);
  if (user.totp_secret !== null || passkey) {
    if (session.mfa_at === null) return '/device/mfa';
    if (!code) return '/device';
    const client = await findClient(deps.db, code.client_id);
    if (client?.requirePhishingResistantMfa && !passedPasskey(session))
      return (await hasUsablePasskey(deps.db, user.id)) ? '/device/mfa' : '/device/passkeys';
    return '/device/consent';
  }
  if (!code) return '/device';
  const client = await findClient(deps.db, code.client_id);
  if (client?.requirePhishingResistantMfa) return '/device/passkeys';
  if (client?.requireMfa && session.mfa_at === null) return '/device/mfa/setup';
  return '/device/consent';
}

/**
 * Whether this session may consent: the second factor the user and the client demand is passed (a
 * passkey where the client requires a phishing-resistant one), and no one-time password is still
 * waiting to be replaced.
 */
export async function mfaSatisfied(
  deps: Pick<PageDeps, 'db'>,
  session: SessionRow,
  user: UserRow,
  client: { requireMfa: boolean; requirePhishingResistantMfa: boolean },
): Promise<boolean> {
  if (user.must_change_password === 1) return false;
  if (client.requirePhishingResistantMfa) return passedPasskey(session);
  if (session.mfa_at !== null) return true;
  return !client.requireMfa && user.totp_secret === null && !(await hasPasskey(deps.db, user.id));
}
