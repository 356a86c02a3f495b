/**
 * Which storage failures the error boundary answers 503 `temporarily_unavailable` with Retry-After (the
 * client may retry), and which it treats as bugs (500). The PostgreSQL ones are pg's error shape: an
 * Error with the SQLSTATE in `code`.
 */
import { TemporarilyUnavailable } from '@clavis/core';
import { describe, expect, it } from 'vitest';
import { toOAuthError } from '../../src/http/error_boundary.js';
import { isStorageUnreachable, isTransientStorageError } from '../../src/storage/errors.js';

function pgError(code: string, message = 'pg error'): Error {
  return Object.assign(new Error(message), { code });
}

describe('storage errors', () => {
  it.each([
    ['55P03', 'lock_not_available (lock_timeout)'],
    ['57014', 'query_canceled (statement_timeout)'],
    ['40P01', 'deadlock_detected'],
    ['40001', 'serialization_failure'],
    ['08006', 'connection_failure'],
    ['57P01', 'admin_shutdown'],
    ['53300', 'too_many_connections'],
    ['ECONNREFUSED', 'connection refused'],
  ])('%s (%s) is answered 503 with Retry-After', (code) => {
    const { error, unexpected } = toOAuthError(pgError(code));
    expect(unexpected).toBe(false);
    expect(error).toBeInstanceOf(TemporarilyUnavailable);
    expect(error.status).toBe(503);
    expect(error.headers['retry-after']).toBe('1');
  });

  it.each([
    'Connection terminated unexpectedly',
    'timeout exceeded when trying to connect',
    'Client was closed and is not queryable',
  ])('pg losing the connection ("%s") is answered 503', (message) => {
    expect(toOAuthError(new Error(message)).error).toBeInstanceOf(TemporarilyUnavailable);
  });

  it.each([
    ['23505', 'unique_violation'],
    ['22021', 'character_not_in_repertoire'],
    ['42P01', 'undefined_table'],
  ])('%s (%s) is a bug: 500', (code) => {
    expect(toOAuthError(pgError(code))).toMatchObject({ unexpected: true, error: { status: 500 } });
  });

  it('timeouts, deadlocks and serialization failures are about one statement; connection loss is not', () => {
    for (const code of ['55P03', '57014', '40P01', '40001']) {
      expect(isTransientStorageError(pgError(code))).toBe(true);
      expect(isStorageUnreachable(pgError(code))).toBe(false);
    }
    for (const code of ['08006', '57P01', 'ECONNRESET'])
      expect(isStorageUnreachable(pgError(code))).toBe(true);
  });
});
