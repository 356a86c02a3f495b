/** The subject-token types token exchange accepts, by `subject_token_type`. */
import type { SubjectTokenHandler } from './token_exchange.js';

const handlers: SubjectTokenHandler[] = [];

export const subjectTokenHandlers: ReadonlyMap<string, SubjectTokenHandler> = new Map(
  handlers.flatMap((h) => h.tokenTypes.map((t) => [t, h] as const)),
);
