/** The subject-token types token exchange accepts, by `subject_token_type`. */
// Scoped API keys (issue 4).
import { apiKeyExchange } from './api_key_exchange.js';
// Workload identity federation (issue 5).
import { federatedExchange } from './federated_exchange.js';
import type { SubjectTokenHandler } from './token_exchange.js';

const handlers: SubjectTokenHandler[] = [
  // Scoped API keys (issue 4).
  apiKeyExchange,
  // Workload identity federation (issue 5): JWTs and ID tokens.
  federatedExchange,
];

export const subjectTokenHandlers: ReadonlyMap<string, SubjectTokenHandler> = new Map(
  handlers.flatMap((h) => h.tokenTypes.map((t) => [t, h] as const)),
);
