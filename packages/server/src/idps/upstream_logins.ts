/**
 * Sign-ins under way at an upstream provider. The `state` sent upstream is 256 random bits; the row is
 * keyed by its HMAC under a server key (the one the nonce and verifier come from), so the database holds
 * neither the state nor a digest anyone could match to it without that key. The row binds the sign-in to the browser session
 * that started it and to the device request that session was deciding; it is taken (deleted) by the one
 * callback that finishes it, so a replayed callback finds nothing. The nonce and the PKCE verifier are
 * not stored at all: they are derived from the state with a server key (`deriveLoginSecrets`), so only
 * the callback carrying the real state can reproduce them.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { rawExec } from '../storage/raw.js';
import type { Database } from '../storage/schema.js';

type Db = Kysely<Database>;

/** How long a person has at the provider before the sign-in expires. */
export const UPSTREAM_LOGIN_TTL_MS = 10 * 60_000;

export interface UpstreamLogin {
  sessionId: string;
  deviceCodeId: string | null;
  idpId: string;
}

const idOf = (key: Buffer, state: string) =>
  createHmac('sha256', key).update(`upstream-login:${state}`).digest('base64url');

/** The per-sign-in secrets: the nonce and the PKCE code verifier, from the state and a server key. */
export function deriveLoginSecrets(key: Buffer, state: string): { nonce: string; codeVerifier: string } {
  const derive = (purpose: string) =>
    createHmac('sha256', key).update(`${purpose}:${state}`).digest('base64url');
  return { nonce: derive('upstream-nonce'), codeVerifier: derive('upstream-pkce') };
}

/** Starts a sign-in: stores its row (by `key`'s HMAC of the state) and returns the fresh state. */
export async function beginUpstreamLogin(
  db: Db,
  key: Buffer,
  login: UpstreamLogin,
  now: number,
): Promise<string> {
  const state = randomBytes(32).toString('base64url');
  await db
    .insertInto('upstream_logins')
    .values({
      id: idOf(key, state),
      session_id: login.sessionId,
      device_code_id: login.deviceCodeId,
      idp_id: login.idpId,
      created_at: now,
      expires_at: now + UPSTREAM_LOGIN_TTL_MS,
    })
    .execute();
  return state;
}

export type TakenLogin =
  | { ok: true; login: UpstreamLogin }
  | { ok: false; reason: 'unknown_state' | 'expired' | 'other_browser' };

/**
 * Takes the sign-in that `state` names, for the browser session `sessionId`: deleted when it is that
 * session's (only one caller can), left alone when it is another browser's (so the wrong browser cannot
 * spend it). Unknown, already taken and expired are told apart for the audit record only.
 */
export async function takeUpstreamLogin(
  db: Db,
  key: Buffer,
  state: string,
  sessionId: string | undefined,
  now: number,
): Promise<TakenLogin> {
  const id = idOf(key, state);
  const row = await db.selectFrom('upstream_logins').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return { ok: false, reason: 'unknown_state' };
  if (row.session_id !== sessionId) return { ok: false, reason: 'other_browser' };
  const taken = await rawExec(db, 'delete from upstream_logins where id = ? and session_id = ?', [
    id,
    sessionId,
  ]);
  if (taken === 0) return { ok: false, reason: 'unknown_state' };
  if (Number(row.expires_at) <= now) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    login: { sessionId: row.session_id, deviceCodeId: row.device_code_id, idpId: row.idp_id },
  };
}

/** Deletes expired sign-ins. Returns how many. */
export async function purgeUpstreamLogins(db: Db, now: number): Promise<number> {
  return rawExec(db, 'delete from upstream_logins where expires_at <= ?', [now]);
}
