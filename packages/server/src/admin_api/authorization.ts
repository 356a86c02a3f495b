/**
 * Who may call the admin API: a bearer access token of this server (signed by us, unexpired, for this
 * issuer, not revoked, its principal still active) carrying `admin`, held by
 * - a person who is an administrator now (`users.is_admin`) and whose sign-in behind the token passed a
 *   second factor (`amr` of the token's refresh family contains `mfa`); for a destructive call, that
 *   sign-in is at most 15 minutes old (else 403 `reauthentication-required`); or
 * - a service principal (a client-credentials token) whose registration explicitly carries `admin`.
 * This server issues no sender-constrained tokens, so a token bound to a key (`cnf`) is refused: its
 * proof could not be checked. Every refusal is recorded (unauthenticated ones charged to the caller's
 * address, as at the token endpoint); every allowed call is recorded by the caller of `authorize`.
 */
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Actor } from '../admin/actor.js';
import type { FailureLog } from '../audit/failure_log.js';
import { refuseWith } from '../audit/refuse.js';
import { findClient } from '../clients/client_store.js';
import { parseMethods } from '../grants/user_tokens.js';
import type { BearerGuard } from '../http/bearer_guard.js';
import { rawRows } from '../storage/raw.js';
import type { Database } from '../storage/schema.js';
import type { AccessTokenClaims } from '../tokens/access_token.js';
import { Problem, toProblem } from './problem.js';

export const ADMIN_SCOPE = 'admin';

/** How recent a person's sign-in must be for a destructive call. */
export const REAUTHENTICATION_WINDOW_MS = 15 * 60_000;

/** An authorized caller of the admin API. */
export interface AdminCaller {
  kind: 'person' | 'service';
  /** The actor the use cases record: the person (`user`, their id) or the client. */
  actor: Actor;
  /** The token's `jti`, recorded with every call. */
  jti: string;
  /** The client the token was issued to. */
  clientId: string;
  /** A stable name of the caller, for idempotency keys and rate limits: `user:ID` or `client:ID`. */
  key: string;
}

export interface AuthorizeOptions {
  /** Deletes, disables, revocations, rotations, MFA resets, password sets: need a recent sign-in. */
  destructive: boolean;
  /** The operation asked for, named in the audit record of a refusal. */
  operation: string;
}

export interface AuthorizerDeps {
  bearer: BearerGuard<AccessTokenClaims>;
  db: Kysely<Database>;
  failures: FailureLog;
  clock: () => number;
}

interface SignIn {
  auth_time: number | string | null;
  amr: string | null;
}

/** How the person behind a token signed in: the refresh family the token came from, if any. */
async function signInOf(db: Kysely<Database>, jti: string): Promise<SignIn | undefined> {
  const rows = await rawRows<SignIn>(
    db,
    `select f.auth_time, f.amr from family_access_tokens a
       join token_families f on f.id = a.family_id
      where a.jti = ?`,
    [jti],
  );
  return rows[0];
}

async function isAdministrator(db: Kysely<Database>, userId: string): Promise<boolean> {
  const rows = await rawRows<{ is_admin: number | string }>(db, 'select is_admin from users where id = ?', [
    userId,
  ]);
  return Number(rows[0]?.is_admin ?? 0) === 1;
}

export class AdminAuthorizer {
  readonly #deps: AuthorizerDeps;

  constructor(deps: AuthorizerDeps) {
    this.#deps = deps;
  }

  /** The caller, or the refusal (recorded, then thrown). */
  async authorize(request: FastifyRequest, options: AuthorizeOptions): Promise<AdminCaller> {
    const where = { ip: request.ip ?? null, userAgent: request.headers['user-agent']?.slice(0, 200) ?? null };
    let claims: AccessTokenClaims;
    try {
      ({ claims } = await this.#deps.bearer.require(request, ADMIN_SCOPE));
    } catch (err) {
      const { problem } = toProblem(err);
      if (
        problem.slug !== 'unauthorized' &&
        problem.slug !== 'forbidden' &&
        problem.slug !== 'invalid-request'
      )
        throw err;
      // No valid token: charged to the address, as a wrong client secret is. A valid token without
      // `admin` is an authenticated caller asking for too much: recorded, not charged.
      const charge = problem.slug !== 'forbidden';
      return refuseWith(
        this.#deps.failures,
        {
          entry: {
            event: 'admin_api.refuse',
            outcome: 'failure',
            actor: { type: 'anonymous' },
            ...where,
            detail: { operation: options.operation, reason: charge ? 'invalid_token' : 'insufficient_scope' },
          },
        },
        err as Error,
        { charge },
      );
    }
    const person = claims.sub !== claims.client_id;
    const actor: Actor = { type: person ? 'user' : 'client', id: claims.sub, ...where };
    const refuse = async (problem: Problem, reason: string): Promise<never> =>
      refuseWith(
        this.#deps.failures,
        {
          entry: {
            event: 'admin_api.refuse',
            outcome: 'failure',
            actor: { type: actor.type, id: actor.id },
            clientId: claims.client_id,
            ...where,
            detail: { operation: options.operation, reason, jti: claims.jti },
          },
          subject: claims.jti,
        },
        problem,
        { charge: false },
      );

    if (claims.cnf !== undefined) {
      return refuse(
        new Problem(
          'unauthorized',
          'this server issues no sender-constrained tokens; a key-bound token is not accepted',
          {
            headers: { 'www-authenticate': 'Bearer realm="clavis", error="invalid_token"' },
          },
        ),
        'key_bound_token',
      );
    }
    if (!person) {
      const client = await findClient(this.#deps.db, claims.client_id);
      if (!client?.scopes.includes(ADMIN_SCOPE))
        return refuse(new Problem('forbidden', 'the client is not granted admin'), 'not_granted');
      return {
        kind: 'service',
        actor,
        jti: claims.jti,
        clientId: claims.client_id,
        key: `client:${claims.client_id}`,
      };
    }
    if (!(await isAdministrator(this.#deps.db, claims.sub)))
      return refuse(new Problem('forbidden', 'you are not an administrator'), 'not_admin');
    const signIn = await signInOf(this.#deps.db, claims.jti);
    const methods = signIn ? (parseMethods(signIn.amr) ?? []) : [];
    if (!methods.includes('mfa'))
      return refuse(
        new Problem(
          'forbidden',
          'administration needs a sign-in with a second factor: run clavis login --scope admin',
        ),
        'no_mfa',
      );
    if (options.destructive) {
      const authTime =
        signIn?.auth_time === null || signIn?.auth_time === undefined ? null : Number(signIn.auth_time);
      if (authTime === null || this.#deps.clock() - authTime > REAUTHENTICATION_WINDOW_MS)
        return refuse(
          new Problem(
            'reauthentication-required',
            'this change needs a sign-in within the last 15 minutes: run clavis login --scope admin',
          ),
          'stale_sign_in',
        );
    }
    return { kind: 'person', actor, jti: claims.jti, clientId: claims.client_id, key: `user:${claims.sub}` };
  }
}
