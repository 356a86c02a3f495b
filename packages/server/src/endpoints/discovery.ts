/**
 * Authorization server metadata (RFC 8414) at both well-known paths, listing exactly what this server
 * supports.
 */
import {
  AUTHORIZATION_SERVER_METADATA_PATH,
  type AuthorizationServerMetadata,
  KEYS_MINT_SCOPE,
  OPENID_CONFIGURATION_PATH,
  OPENID_SCOPE,
  PROFILE_SCOPE,
} from '@clavis/core';
import type { FastifyInstance } from 'fastify';
import { assertionAlgorithms } from '../client_auth/private_key_jwt.js';
import { endpointUrl, paths, type ServerConfig } from '../config.js';
import { supportedGrants } from '../grants/registry.js';
import { ID_TOKEN_CLAIMS } from '../tokens/id_token.js';
import { ID_TOKEN_ALG } from '../tokens/signing_keys.js';

export function metadata(config: ServerConfig): AuthorizationServerMetadata {
  const authMethods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
  const algs = [...assertionAlgorithms];
  return {
    issuer: config.issuer,
    token_endpoint: endpointUrl(config, paths.token),
    jwks_uri: endpointUrl(config, paths.jwks),
    introspection_endpoint: endpointUrl(config, paths.introspection),
    revocation_endpoint: endpointUrl(config, paths.revocation),
    device_authorization_endpoint: endpointUrl(config, paths.deviceAuthorization),
    api_key_endpoint: endpointUrl(config, paths.apiKeys),
    api_key_verification_endpoint: endpointUrl(config, paths.apiKeyVerification),
    api_key_leak_report_endpoint: endpointUrl(config, paths.apiKeyLeaks),
    grant_types_supported: supportedGrants.map((g) => g.grantType),
    response_types_supported: [],
    // `none` only once a grant accepts public clients (the device flow): list exactly what works.
    token_endpoint_auth_methods_supported: supportedGrants.some((g) => g.allowPublicClients)
      ? [...authMethods, 'none']
      : authMethods,
    token_endpoint_auth_signing_alg_values_supported: algs,
    introspection_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_signing_alg_values_supported: algs,
    revocation_endpoint_auth_methods_supported: [...authMethods, 'none'],
    revocation_endpoint_auth_signing_alg_values_supported: algs,
    access_token_signing_alg_values_supported: [config.signingAlg],
    // OpenID Connect Discovery 1.0 §3, for the people's tokens of the device flow.
    userinfo_endpoint: endpointUrl(config, paths.userinfo),
    // RS256 whatever the access tokens' alg: Discovery §3 requires it, OIDC clients default to it.
    id_token_signing_alg_values_supported: [ID_TOKEN_ALG],
    subject_types_supported: ['public'],
    scopes_supported: [OPENID_SCOPE, PROFILE_SCOPE, KEYS_MINT_SCOPE],
    claims_supported: [...ID_TOKEN_CLAIMS],
  };
}

export function registerDiscovery(app: FastifyInstance, config: ServerConfig): void {
  const body = JSON.stringify(metadata(config));
  for (const path of [AUTHORIZATION_SERVER_METADATA_PATH, OPENID_CONFIGURATION_PATH]) {
    app.get(path, (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').type('application/json; charset=utf-8').send(body),
    );
  }
}
