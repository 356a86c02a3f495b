import { generateApiKey } from '@clavis/core';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import {
  type Caller,
  createKey,
  exchange,
  INVALID_EXCHANGE,
  INVALID_VERIFY,
  registerCaller,
  verify,
} from './support.js';

/**
 * Malformed keys and wrong checksums are refused before any lookup. Proof without mocks: with the
 * `api_keys` table gone, they still get their normal, identical answers, while a well-formed key — which
 * must be looked up — fails.
 */
describe.each(dialects)('malformed keys never reach storage (%s)', (dialect) => {
  let server: TestServer;
  let rs: Caller;
  let key: string;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    const owner = await registerCaller(server);
    rs = await registerCaller(server);
    ({ key } = await createKey(server, { owner: owner.id }));
    await sql`alter table api_keys rename to api_keys_away`.execute(server.services.db);
  });
  afterAll(async () => {
    await sql`alter table api_keys_away rename to api_keys`.execute(server.services.db);
    await server.close();
  });

  it('malformed and bad-checksum keys are answered from the format alone', async () => {
    const badChecksum = `${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`;
    for (const presented of ['clv_', 'clv_!!', `${key}x`, badChecksum, 'ghp_0123456789abcdef']) {
      await server.failures.flush(); // each refusal the first of its kind in its window: recorded
      const v = await verify(server, rs, { key: presented });
      expect(v.statusCode, presented).toBe(401);
      expect(v.json()).toEqual(INVALID_VERIFY);
      await server.failures.flush();
      const x = await exchange(server, presented);
      expect(x.statusCode, presented).toBe(400);
      expect(x.json()).toEqual(INVALID_EXCHANGE);
    }
    const reasons = (await auditRecords(server, 'api_key.use_denied')).map((r) => r.detail.reason);
    expect(reasons.filter((r) => r === 'bad_checksum')).toHaveLength(2);
    expect(reasons.filter((r) => r === 'malformed')).toHaveLength(8);
  });

  it('a well-formed key does reach storage (so the test above can fail)', async () => {
    const res = await verify(server, rs, { key: generateApiKey() });
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
  });
});
