/**
 * Client authentication for the token, introspection and revocation endpoints. Every failure is the
 * same `invalid_client` to the caller (an unknown client and a wrong secret are indistinguishable) and
 * an audit record with the real reason (never the secret) for the operator.
 */
import { InvalidClient, OAuthError, TooManyRequests } from '@clavis/core';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import type { RequestContext } from '../audit/events.js';
import type { FailureLog } from '../audit/failure_log.js';
import type { Client } from '../clients/client.js';
import type { ClientDirectory } from '../clients/client_directory.js';
import type { SecretHasher } from '../crypto/secrets.js';
import type { FormParams } from '../http/form_body.js';
import { rekeyHash } from '../storage/hashed_secrets.js';
import { claimOnce } from '../storage/replay_guard.js';
import type { Database } from '../storage/schema.js';
import { matchingSecret } from './client_secret.js';
import { presentedCredentials } from './credentials.js';
import { type AssertionPolicy, assertionClientId, verifyClientAssertion } from './private_key_jwt.js';

export interface ClientAuthDeps {
  db: Kysely<Database>;
  clients: ClientDirectory;
  hasher: SecretHasher;
  audit: AuditLog;
  /** Failures are charged to the caller's address and aggregated before they are recorded. */
  failures: FailureLog;
  assertionPolicy: AssertionPolicy;
}

interface AuthenticatedClient {
  client: Client;
  method: Client['authMethod'];
}

function isSecretMethod(method: Client['authMethod']): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}

class AuthFailure extends Error {
  constructor(
    readonly reason: string,
    readonly clientId: string | null,
    readonly publicMessage = 'client authentication failed',
  ) {
    super(reason);
  }
}

async function authenticate(
  deps: ClientAuthDeps,
  authorization: string | undefined,
  params: FormParams,
  now: number,
): Promise<AuthenticatedClient> {
  const presented = presentedCredentials(authorization, params);
  const clientId =
    presented.method === 'private_key_jwt'
      ? (presented.clientId ?? assertionClientId(presented.assertion))
      : presented.clientId;
  const found = await deps.clients.find(clientId, now);

  if (presented.method === 'client_secret_basic' || presented.method === 'client_secret_post') {
    // Always compare, even for an unknown client, so both cost the same.
    const match = matchingSecret(deps.hasher, presented.secret, found?.secrets ?? []);
    if (!found) throw new AuthFailure('unknown client', null);
    // Basic and post carry the same secret; a secret client may use either (clients such as
    // openid-client default to post). A client registered for keys or for none may use neither.
    if (!isSecretMethod(found.client.authMethod)) {
      throw new AuthFailure(`client is registered for ${found.client.authMethod}`, clientId);
    }
    if (!match) throw new AuthFailure('wrong or expired secret', clientId);
    if (!deps.hasher.isCurrent(match.hash)) {
      // Stored under an older hashing-key version (before a KEK rotation): moved to the current one.
      await rekeyHash(deps.db, 'client_secrets', match.hash, deps.hasher.hash(presented.secret));
      deps.clients.invalidate();
    }
  } else if (!found) {
    throw new AuthFailure('unknown client', null);
  } else if (presented.method === 'private_key_jwt') {
    if (found.client.authMethod !== 'private_key_jwt') {
      throw new AuthFailure(`client is registered for ${found.client.authMethod}`, clientId);
    }
    let verified: Awaited<ReturnType<typeof verifyClientAssertion>>;
    try {
      verified = await verifyClientAssertion(presented.assertion, found.client, deps.assertionPolicy);
    } catch (err) {
      if (err instanceof InvalidClient) throw new AuthFailure(err.description, clientId, err.description);
      throw err;
    }
    const expiresAt = (verified.exp + deps.assertionPolicy.clockToleranceSeconds) * 1000;
    const key = `client_assertion:${clientId}:${verified.jti}`;
    // Durable before we answer; atomic across instances on its own, so it needs no record with it.
    const claimed = await deps.audit.run(claimOnce(key, expiresAt), () => null, { mayCommitApart: true });
    if (!claimed) {
      throw new AuthFailure('client_assertion replayed', clientId, 'client_assertion has already been used');
    }
  } else if (found.client.authMethod !== 'none') {
    throw new AuthFailure(`client is registered for ${found.client.authMethod}`, clientId);
  }
  if (found.client.disabledAt !== null) throw new AuthFailure('client is disabled', clientId);
  return { client: found.client, method: presented.method };
}

/**
 * Authenticates the calling client, or throws `InvalidClient` (401) after auditing the failure.
 * Malformed requests (two methods at once, …) throw `InvalidRequest` and are audited the same way.
 * Failures are charged to the caller's address: over its budget they are `TooManyRequests` (429) and
 * only counted.
 */
export async function authenticateClient(
  deps: ClientAuthDeps,
  request: {
    authorization: string | undefined;
    params: FormParams;
    context: RequestContext;
    endpoint: string;
  },
): Promise<AuthenticatedClient> {
  try {
    return await authenticate(deps, request.authorization, request.params, deps.assertionPolicy.now());
  } catch (err) {
    let reason: string;
    let clientId: string | null = null;
    let toThrow: unknown = err;
    if (err instanceof AuthFailure) {
      reason = err.reason;
      clientId = err.clientId;
      toThrow = new InvalidClient(err.publicMessage);
    } else if (err instanceof OAuthError) {
      reason = err.description;
    } else {
      throw err;
    }
    const verdict = await deps.failures.fail({
      entry: {
        event: 'client.auth_failed',
        outcome: 'failure',
        actor: { type: clientId ? 'client' : 'anonymous', id: clientId },
        clientId,
        ip: request.context.ip,
        userAgent: request.context.userAgent,
        requestId: request.context.requestId,
        detail: { endpoint: request.endpoint, reason },
      },
      subject: clientId,
    });
    if (verdict.throttled) {
      throw new TooManyRequests('too many failed attempts from this address', verdict.retryAfterSeconds);
    }
    throw toThrow;
  }
}
