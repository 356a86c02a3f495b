/**
 * Entity tags of admin resources and the `If-Match` precondition of updates (RFC 9110 §8.8.3, §13.1.1;
 * RFC 6585 §3): the tag is a hash of the resource's JSON as the API shows it, so any change to what a
 * caller can see changes it. An update without `If-Match` is 428; with a tag that is no longer current, 412.
 */
import { createHash } from 'node:crypto';
import { Problem } from './problem.js';

/** The header's schema: what the route validates and the OpenAPI document shows (428 when absent). */
export const ifMatchSchema = {
  type: 'string',
  maxLength: 1024,
  description: 'The ETag of the resource as last read; without it, 428',
};

/** The strong entity tag of a representation. */
export function etagOf(representation: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(representation)).digest('base64url').slice(0, 27)}"`;
}

/** Refuses an update unless `If-Match` names the current representation (or is `*`). */
export function checkIfMatch(header: string | string[] | undefined, current: unknown): void {
  if (header === undefined || header === '')
    throw new Problem('precondition-required', 'send If-Match with the ETag of the resource you read');
  const tags = (Array.isArray(header) ? header.join(',') : header).split(',').map((t) => t.trim());
  if (tags.includes('*')) return;
  const tag = etagOf(current);
  if (!tags.includes(tag))
    throw new Problem('precondition-failed', 'the resource changed since you read it: read it again');
}
