/** The subject-token types token exchange accepts, by `subject_token_type`. */
import { apiKeyExchange } from './api_key_exchange.js';
import { federatedExchange } from './federated_exchange.js';
import type { SubjectTokenHandler, TokenExchangeDeps } from './token_exchange.js';

const handlers: SubjectTokenHandler<TokenExchangeDeps>[] = [
  apiKeyExchange,
  // Workload tokens: JWTs and ID tokens.
  federatedExchange,
];

export const subjectTokenHandlers: ReadonlyMap<string, SubjectTokenHandler<TokenExchangeDeps>> = new Map(
  handlers.flatMap((h) => h.tokenTypes.map((t) => [t, h] as const)),
);
