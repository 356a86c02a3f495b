/**
 * Cursor pagination of the admin lists: `limit` (1–1000, default 100) items after an opaque `cursor`,
 * with `next_cursor` when more follow. The cursor of a list held in memory is the position after the last
 * item returned, sealed in nothing more than base64url: it reveals nothing a caller could not count.
 */
import { Problem } from './problem.js';

export const PAGE_LIMIT_MAX = 1000;
export const PAGE_LIMIT_DEFAULT = 100;

/** The query of a paginated list, as a JSON schema (validated by the route). */
export const pageQuerySchema = {
  limit: { type: 'integer', minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT },
  cursor: { type: 'string', minLength: 1, maxLength: 512 },
} as const;

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

function decodeOffset(cursor: string): number {
  const match = /^o(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!match) throw new Problem('invalid-request', 'cursor is not one this API returned');
  return Number(match[1]);
}

/** One page of `all`. */
export function pageOf<T>(all: readonly T[], query: { limit?: number; cursor?: string }): Page<T> {
  const limit = query.limit ?? PAGE_LIMIT_DEFAULT;
  const start = query.cursor === undefined ? 0 : decodeOffset(query.cursor);
  const items = all.slice(start, start + limit);
  const end = start + items.length;
  return {
    items,
    next_cursor: end < all.length ? Buffer.from(`o${end}`, 'latin1').toString('base64url') : null,
  };
}
