/**
 * What every verification page shares: the signed session cookie, CSRF checks, bounded form fields,
 * and `PageError`, which the plugin's error handler turns into an HTML page.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ServerConfig } from '../config.js';
import type { FormParams } from '../http/form_body.js';
import type { Database, SessionRow } from '../storage/schema.js';
import { createSession, findSession } from '../users/sessions.js';

export const COOKIE_NAME = 'clavis_device';
/**
 * Over https the cookie is `__Host-` prefixed: browsers then accept it only with Secure, Path=/ and no
 * Domain, so a sibling subdomain cannot plant one (the only way to fix a session here). Over plain http
 * (development) the prefix is impossible (it requires Secure) and the old name stays.
 */
export const SECURE_COOKIE_NAME = `__Host-${COOKIE_NAME}`;

function cookieName(config: ServerConfig): string {
  return config.issuer.startsWith('https:') ? SECURE_COOKIE_NAME : COOKIE_NAME;
}
/** The pages' own stylesheet, script and images only: no inline script or style, no other origin. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** A page-level failure: rendered as an HTML page with this status. */
export class PageError extends Error {
  override name = 'PageError';
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const forbiddenForm = () =>
  new PageError(
    403,
    'Form expired',
    'This form was not sent from this site, or your session has expired. Start again.',
  );

interface SessionDeps {
  config: ServerConfig;
  db: Kysely<Database>;
  cookieKey: Buffer;
}

function sign(key: Buffer, id: string): string {
  return createHmac('sha256', key).update(`session:${id}`).digest('base64url');
}

/**
 * The cookie carries a random token; the database keeps only this keyed hash of it as the session's id,
 * and no CSRF token at all (`csrfTokenOf` derives it from the cookie's token). So a copy of the database
 * without the KEK holds nothing that signs a browser in or passes a form.
 */
function sessionIdOf(key: Buffer, token: string): string {
  return createHmac('sha256', key).update(`session-id:${token}`).digest('base64url');
}

/** The CSRF token of the session whose cookie carries `token`. */
function csrfTokenOf(key: Buffer, token: string): string {
  return createHmac('sha256', key).update(`csrf:${token}`).digest('base64url');
}

function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string' || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The session token from a cookie whose signature verifies; undefined for a missing or tampered cookie. */
function verifiedSessionToken(key: Buffer, value: string | undefined): string | undefined {
  if (!value || value.length > 200) return undefined;
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const id = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1));
  const expected = Buffer.from(sign(key, id));
  return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined;
}

/** The request's live session, or undefined (none, tampered, unknown or expired: all the same). */
export async function loadSession(
  deps: SessionDeps,
  request: FastifyRequest,
): Promise<SessionRow | undefined> {
  const token = verifiedSessionToken(deps.cookieKey, readCookie(request, cookieName(deps.config)));
  if (token === undefined) return undefined;
  const row = await findSession(deps.db, sessionIdOf(deps.cookieKey, token), deps.config.clock());
  return row && { ...row, csrf_token: csrfTokenOf(deps.cookieKey, token) };
}

/** Sets the cookie of a new session (`token`: from `newSession`, never the row's id). */
export function setSessionCookie(deps: SessionDeps, reply: FastifyReply, token: string): void {
  const https = deps.config.issuer.startsWith('https:');
  // `__Host-` requires Path=/; over http the cookie stays scoped to the pages.
  const scope = https ? 'Path=/' : 'Path=/device';
  reply.header(
    'set-cookie',
    `${cookieName(deps.config)}=${token}.${sign(deps.cookieKey, token)}; ${scope}; Max-Age=${deps.config.sessionTtlSeconds}; HttpOnly; SameSite=Lax${https ? '; Secure' : ''}`,
  );
}

/** Tells the browser to forget the session cookie. */
export function clearSessionCookie(deps: SessionDeps, reply: FastifyReply): void {
  const https = deps.config.issuer.startsWith('https:');
  reply.header(
    'set-cookie',
    `${cookieName(deps.config)}=; ${https ? 'Path=/' : 'Path=/device'}; Max-Age=0; HttpOnly; SameSite=Lax${https ? '; Secure' : ''}`,
  );
}

/** A fresh session: its row (not stored) and the token its cookie carries. */
export interface NewSession {
  /** As stored: its id is the token's keyed hash, its `csrf_token` empty. */
  row: SessionRow;
  token: string;
}

/** A fresh session, optionally for a signed-in user. */
export function newSession(deps: SessionDeps, user?: { id: string; at: number }): NewSession {
  const now = deps.config.clock();
  const token = randomBytes(32).toString('base64url');
  const row: SessionRow = {
    id: sessionIdOf(deps.cookieKey, token),
    csrf_token: '',
    user_id: user?.id ?? null,
    password_at: user?.at ?? null,
    mfa_at: null,
    idp_id: null,
    sign_in_amr: null,
    mfa_method: null,
    webauthn_challenge: null,
    created_at: now,
    expires_at: now + deps.config.sessionTtlSeconds * 1000,
  };
  return { row, token };
}

/** The request's session, or a new anonymous one (stored, cookie set). */
export async function ensureSession(
  deps: SessionDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<SessionRow> {
  const existing = await loadSession(deps, request);
  if (existing) return existing;
  const { row, token } = newSession(deps);
  await createSession(deps.db, row);
  setSessionCookie(deps, reply, token);
  return { ...row, csrf_token: csrfTokenOf(deps.cookieKey, token) };
}

/** For a form POST: the session, and its CSRF token matches the form's. Otherwise 403. */
export async function requireFormSession(
  deps: SessionDeps,
  request: FastifyRequest,
  form: FormParams,
): Promise<SessionRow> {
  const session = await loadSession(deps, request);
  const given = form.csrf;
  if (!session || !given || !session.csrf_token || given.length > 128) throw forbiddenForm();
  const a = Buffer.from(given);
  const b = Buffer.from(session.csrf_token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw forbiddenForm();
  return session;
}

/** The parsed form body (empty when there is none). */
export function formOf(request: FastifyRequest): FormParams {
  const body = request.body;
  return body && typeof body === 'object' ? (body as FormParams) : {};
}

/** A form field of at most `max` characters; an oversized one is a 400 page, never truncated. */
export function field(form: FormParams, name: string, max: number): string | undefined {
  const value = form[name];
  if (value !== undefined && value.length > max) {
    throw new PageError(400, 'Input too long', `The ${name.replace('_', ' ')} you sent is too long.`);
  }
  return value;
}
