/**
 * The preamble of an endpoint a client calls as itself (device authorization, introspection,
 * revocation, API-key verification): the form, who is calling, and the client, authenticated — failures
 * are `invalid_client` and audited by client authentication. The token endpoint authenticates through
 * the same {@link ClientAuthenticator}, after it knows the grant.
 */
import { InvalidClient } from '@clavis/core';
import type { FastifyRequest } from 'fastify';
import { authenticateClient, type ClientAuthDeps } from '../client_auth/authenticate.js';
import { type EndpointRequest, endpointRequest } from '../http/endpoint.js';

type ClientAuthInput = Parameters<typeof authenticateClient>[1];
type AuthenticatedClient = Awaited<ReturnType<typeof authenticateClient>>;

/** Authenticates the client of a request; built once per app from the client-authentication services. */
export type ClientAuthenticator = (input: ClientAuthInput) => Promise<AuthenticatedClient>;

export function clientAuthenticator(deps: ClientAuthDeps): ClientAuthenticator {
  return (input) => authenticateClient(deps, input);
}

export type ClientRequest = EndpointRequest & AuthenticatedClient;

/**
 * The form, context and authenticated client of `request`. With `credentialsRequired`, a public client
 * (authentication method `none`) is refused with that description.
 */
export async function clientRequest(
  request: FastifyRequest,
  authenticate: ClientAuthenticator,
  endpoint: string,
  options: { credentialsRequired?: string } = {},
): Promise<ClientRequest> {
  const { params, context } = endpointRequest(request);
  const { client, method } = await authenticate({
    authorization: request.headers.authorization,
    params,
    context,
    endpoint,
  });
  if (method === 'none' && options.credentialsRequired !== undefined) {
    throw new InvalidClient(options.credentialsRequired);
  }
  return { params, context, client, method };
}
