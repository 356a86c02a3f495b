/**
 * The token endpoint (RFC 6749 §3.2): parse → find the grant → authenticate the client → check the
 * client may use the grant → run it. Responses are never cached (§5.1).
 */
import { UnauthorizedClient, UnsupportedGrantType } from '@clavis/core';
import type { FastifyInstance } from 'fastify';
import { authenticateClient, type ClientAuthDeps } from '../client_auth/authenticate.js';
import { paths } from '../config.js';
import type { GrantDeps } from '../grants/grant.js';
import { grants } from '../grants/registry.js';
import { type FormParams, requireParam } from '../http/form_body.js';
import { requestContext } from '../http/request_context.js';

export function registerTokenEndpoint(app: FastifyInstance, deps: GrantDeps & ClientAuthDeps): void {
  app.post(paths.token, async (request, reply) => {
    const params = (request.body ?? {}) as FormParams;
    const context = requestContext(request);
    const grantType = requireParam(params, 'grant_type');
    const grant = grants.get(grantType);
    if (!grant) throw new UnsupportedGrantType('unsupported grant_type');
    const { client } = await authenticateClient(deps, {
      authorization: request.headers.authorization,
      params,
      context,
      endpoint: 'token',
    });
    if (!client.grantTypes.includes(grantType))
      throw new UnauthorizedClient('the client may not use this grant');
    if (client.kind === 'public' && !grant.allowPublicClients) {
      throw new UnauthorizedClient('this grant needs a confidential client');
    }
    const response = await grant.handle(deps, { client, params, context });
    return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(response);
  });
}
