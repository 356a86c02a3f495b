/**
 * The token endpoint (RFC 6749 §3.2): parse → find the grant → authenticate the client → check the
 * client may use the grant → run it. Responses are never cached (§5.1).
 *
 * Grants that carry their own credential (token exchange, JWT bearer) make client authentication
 * optional: credentials, when presented, are checked exactly as for any grant; a bare `client_id` is
 * passed on for the grant to match against the principal its credential names.
 */
import { type TokenResponse, UnauthorizedClient, UnsupportedGrantType } from '@clavis/core';
import type { FastifyInstance } from 'fastify';
import type { Client } from '../clients/client.js';
import { paths } from '../config.js';
import type { GrantRegistry } from '../grants/registry.js';
import { endpointRequest } from '../http/endpoint.js';
import { type FormParams, requireParam } from '../http/form_body.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ClientAuthenticator } from './client_request.js';

export interface TokenEndpointDeps {
  grants: GrantRegistry;
  authenticate: ClientAuthenticator;
  /** Counts tokens issued, by grant and credential kind, when metrics are on. */
  metrics?: Metrics | undefined;
}

/** Whether the request carries client credentials (not just a `client_id`). */
function presentsCredentials(authorization: string | undefined, params: FormParams): boolean {
  return (
    authorization !== undefined ||
    params.client_secret !== undefined ||
    params.client_assertion !== undefined ||
    params.client_assertion_type !== undefined
  );
}

export function registerTokenEndpoint(app: FastifyInstance, deps: TokenEndpointDeps): void {
  app.post(paths.token, async (request, reply) => {
    const { params, context } = endpointRequest(request);
    const grantType = requireParam(params, 'grant_type');
    const grant = deps.grants.get(grantType);
    if (!grant) throw new UnsupportedGrantType('unsupported grant_type');
    const authorization = request.headers.authorization;

    let response: TokenResponse;
    // The credential kind: the client's authentication method, or the grant's own credential alone.
    let credential: string;
    if (grant.clientAuthentication === 'optional' && !presentsCredentials(authorization, params)) {
      const claimedClientId = params.client_id ?? null;
      credential = 'grant_credential';
      response = await grant.handle({ client: null, claimedClientId, params, context });
    } else {
      const { client, method } = await deps.authenticate({
        authorization,
        params,
        context,
        endpoint: 'token',
      });
      credential = method;
      checkGrantAllowed(client, grantType, grant.allowPublicClients);
      response =
        grant.clientAuthentication === 'optional'
          ? await grant.handle({ client, claimedClientId: null, params, context })
          : await grant.handle({ client, params, context });
    }
    deps.metrics?.tokensIssued.inc({ grant: grantType, credential });
    return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(response);
  });
}

function checkGrantAllowed(client: Client, grantType: string, allowPublicClients: boolean): void {
  if (!client.grantTypes.includes(grantType))
    throw new UnauthorizedClient('the client may not use this grant');
  if (client.kind === 'public' && !allowPublicClients) {
    throw new UnauthorizedClient('this grant needs a confidential client');
  }
}
