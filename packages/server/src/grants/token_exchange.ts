/**
 * OAuth 2.0 Token Exchange (RFC 8693) at the token endpoint. This module checks what every exchange
 * shares — the parameters and their pairing (§2.1), the requested token type — and hands the subject
 * token to the handler registered for its `subject_token_type`: federated workload tokens (CI,
 * Kubernetes) and Clavis API keys. The issued token is always a short-lived access token.
 */
import { GrantType, InvalidRequest, type TokenResponse, TokenType } from '@clavis/core';
import type { FormParams } from '../http/form_body.js';
import type { ApiKeyExchangeDeps } from './api_key_exchange.js';
import type { FederatedTokenDeps } from './federated_token.js';
import type { CredentialGrant, CredentialGrantRequest } from './grant.js';
import { subjectTokenHandlers } from './subject_token_handlers.js';

/** The largest subject token accepted (a JWT with many claims fits well within it). */
const MAX_SUBJECT_TOKEN_LENGTH = 16 * 1024;

export interface SubjectTokenRequest extends CredentialGrantRequest {
  subjectToken: string;
  subjectTokenType: string;
}

/** Exchanges one kind of subject token. Throws an `OAuthError` for anything it will not exchange. */
/** What token exchange needs: what each subject-token handler needs. */
export type TokenExchangeDeps = FederatedTokenDeps & ApiKeyExchangeDeps;

export interface SubjectTokenHandler<D> {
  /** The `subject_token_type` values it takes. */
  readonly tokenTypes: readonly string[];
  exchange(deps: D, request: SubjectTokenRequest): Promise<TokenResponse>;
}

function present(params: FormParams, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (value === '') throw new InvalidRequest(`parameter "${name}" is empty`);
  return value;
}

export const tokenExchange: CredentialGrant<TokenExchangeDeps> = {
  grantType: GrantType.TokenExchange,
  clientAuthentication: 'optional',
  allowPublicClients: true,

  async handle(deps, request) {
    const { params } = request;
    const subjectToken = present(params, 'subject_token');
    const subjectTokenType = present(params, 'subject_token_type');
    if (subjectToken === undefined) throw new InvalidRequest('missing parameter "subject_token"');
    if (subjectTokenType === undefined) throw new InvalidRequest('missing parameter "subject_token_type"');
    if (subjectToken.length > MAX_SUBJECT_TOKEN_LENGTH)
      throw new InvalidRequest('subject_token is too large');

    // §2.1: actor_token_type is REQUIRED when actor_token is present and MUST NOT be there otherwise.
    const actorToken = present(params, 'actor_token');
    const actorTokenType = present(params, 'actor_token_type');
    if (actorToken !== undefined && actorTokenType === undefined)
      throw new InvalidRequest('actor_token requires actor_token_type');
    if (actorToken === undefined && actorTokenType !== undefined)
      throw new InvalidRequest('actor_token_type without actor_token');
    if (actorToken !== undefined) throw new InvalidRequest('delegation (actor_token) is not supported');

    const requested = present(params, 'requested_token_type');
    if (requested !== undefined && requested !== TokenType.AccessToken)
      throw new InvalidRequest('only access tokens can be requested');

    const handler = subjectTokenHandlers.get(subjectTokenType);
    if (!handler) throw new InvalidRequest('unsupported subject_token_type');
    const response = await handler.exchange(deps, { ...request, subjectToken, subjectTokenType });
    return { ...response, issued_token_type: TokenType.AccessToken };
  },
};
