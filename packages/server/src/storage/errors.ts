/**
 * Which storage failures are transient (the request may be retried: answer 503 + Retry-After) as
 * opposed to bugs. SQLite: BUSY/LOCKED/FULL/IOERR; PostgreSQL: connection loss, shutdown, disk full,
 * too many connections, serialization failures and deadlocks, and the configured timeouts (a lock not
 * granted within `lock_timeout`, a statement cancelled by `statement_timeout`).
 */
export function isTransientStorageError(err: unknown): boolean {
  if (isStorageUnreachable(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(40001|40P01|55P03|57014)$/.test(code);
}

/**
 * The transient failures that are not about any one statement: the database cannot be reached, is
 * shutting down or out of resources, or (SQLite) another process holds it. Trying again at once,
 * statement by statement, only waits for the same fault again.
 */
export function isStorageUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown; errcode?: unknown; errstr?: unknown };
  if (e.code === 'ERR_SQLITE_ERROR') {
    const primary = typeof e.errcode === 'number' ? e.errcode & 0xff : -1;
    return primary === 5 || primary === 6 || primary === 10 || primary === 13;
  }
  if (typeof e.code === 'string') {
    if (/^(08|53|57P0)/.test(e.code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND'].includes(e.code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable/i.test(
    e.message,
  );
}

/** True for a unique / primary-key violation on `table`, on either dialect. */
export function isUniqueViolationOn(err: unknown, table: string): boolean {
  if (!isUniqueViolation(err)) return false;
  const e = err as Error & { table?: unknown };
  // PostgreSQL names the table; SQLite names `table.column` in its message.
  return typeof e.table === 'string' ? e.table === table : e.message.includes(`${table}.`);
}

/** True for a unique / primary-key violation on either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown; errcode?: unknown };
  if (e.code === '23505') return true;
  if (e.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number') {
    return e.errcode === 2067 || e.errcode === 1555;
  }
  return false;
}
