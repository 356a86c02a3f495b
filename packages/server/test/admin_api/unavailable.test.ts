/**
 * The admin API's 503: when storage is held by another process past the busy timeout, a call is
 * answered 503 `unavailable` with Retry-After, as the token endpoint answers — never a 500 — and the
 * next call after the database is free succeeds.
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import type { TestServer } from '../../../../test/support/test_server.js';
import { call, createAdminApiServer, personToken } from './support.js';

describe('admin API when storage is unavailable (sqlite)', () => {
  let server: TestServer;
  afterEach(() => server.close());

  it('503 unavailable with Retry-After while another process holds the database; then 200', async () => {
    server = await createAdminApiServer('sqlite');
    const admin = await personToken(server);
    await server.services.audit.drain();
    const other = new DatabaseSync(join(server.database.dir, 'clavis.db'), { timeout: 0 });
    try {
      other.exec('BEGIN EXCLUSIVE');
      const res = await call(server, 'GET', '/users', { token: admin.accessToken });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ type: 'urn:clavis:problem:unavailable', status: 503 });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
    expect((await call(server, 'GET', '/users', { token: admin.accessToken })).statusCode).toBe(200);
  }, 30_000);
});
