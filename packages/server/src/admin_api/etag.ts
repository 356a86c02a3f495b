/**
 * Entity tags of admin resources and the `If-Match` precondition of updates (RFC 9110 §8.8.3, §13.1.1;
 * RFC 6585 §3): the tag is a hash of the resource's JSON as the API shows it, so any change to what a
 * caller can see changes it. An update without `If-Match` is 428; with a tag that is no longer current, 412.
 * From the check to the change the resource is locked (`UpdateLocks`, shared by every instance), so two
 * updates made from one version cannot both pass the check: the later one waits for nothing, it is 409.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { rawExec, rawRows } from '../storage/raw.js';
import type { Database } from '../storage/schema.js';
import { Problem } from './problem.js';

/** How long a lock holds if its holder never releases it (a crash mid-update). */
const LOCK_TTL_MS = 30_000;

/** Per-resource locks of updates in progress, in the database. */
export class UpdateLocks {
  readonly #db: Kysely<Database>;
  readonly #clock: () => number;

  constructor(options: { db: Kysely<Database>; clock: () => number }) {
    this.#db = options.db;
    this.#clock = options.clock;
  }

  /**
   * Runs `update` holding the lock of `resource`, or refuses with 409 when another update holds it. One
   * atomic insert takes the lock: under concurrent calls on one resource exactly one caller gets it.
   */
  async holding<T>(resource: string, update: () => Promise<T>): Promise<T> {
    const now = this.#clock();
    await rawExec(this.#db, 'delete from admin_update_locks where resource = ? and expires_at <= ?', [
      resource,
      now,
    ]);
    const taken = await rawRows<{ resource: string }>(
      this.#db,
      'insert into admin_update_locks (resource, expires_at) values (?, ?) on conflict (resource) do nothing returning resource',
      [resource, now + LOCK_TTL_MS],
    );
    if (taken.length === 0)
      throw new Problem(
        'conflict',
        'another change to this resource is in progress; read it again and retry',
      );
    try {
      return await update();
    } finally {
      await rawExec(this.#db, 'delete from admin_update_locks where resource = ?', [resource]);
    }
  }
}

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

/** Deletes locks whose holder never released them. */
export async function purgeUpdateLocks(db: Kysely<Database>, now: number): Promise<void> {
  await rawExec(db, 'delete from admin_update_locks where expires_at <= ?', [now]);
}
