/**
 * Round trips to PostgreSQL per request on the hot paths, counted at the pool (every statement,
 * including transaction control and savepoints), one request at a time once the caches are warm. A
 * bound here is a budget: a change that adds a statement to a hot path has to say why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { basic, introspect, post, postAs } from '../../../../test/support/oauth.js';
import { countStatements, type StatementCounter } from '../../../../test/support/statements.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { createKey, registerCaller, verify } from '../api_keys/support.js';

describe.skipIf(!dialects.includes('postgres'))('round trips per request (postgres)', () => {
  let s: TestServer;
  let counter: StatementCounter;
  let caller: { id: string; secret: string };
  let deviceClient: string;
  let key: string;

  beforeAll(async () => {
    s = await createTestServer('postgres');
    caller = await registerCaller(s, { scopes: ['read', 'write'] });
    deviceClient = (await s.createClient({ kind: 'public', scopes: ['openid', 'read'] })).client.id;
    key = (await createKey(s, { owner: caller.id })).key;
    counter = countStatements(s.services.db);
  });
  afterAll(async () => {
    await s?.close();
  });

  /** The first words of each statement of a run of `request` (the runs before warm the caches). */
  async function statementsOf(request: () => Promise<{ statusCode: number }>): Promise<string[]> {
    for (let i = 0; i < 3; i++) expect((await request()).statusCode).toBe(200);
    await s.services.audit.drain();
    counter.reset();
    expect((await request()).statusCode).toBe(200);
    await s.services.audit.drain();
    return counter.texts.map((t) => t.split(/\s+/).slice(0, 3).join(' '));
  }

  const cc = () =>
    post(
      s,
      '/oauth/token',
      { grant_type: 'client_credentials' },
      { authorization: basic(caller.id, caller.secret) },
    );

  it('client credentials', async () => {
    // The client is cached; the record is one autocommitted insert (was 4: lookup, begin, insert, commit).
    expect(await statementsOf(cc)).toEqual(['insert into audit_events']);
  });

  it('API-key verification', async () => {
    // Client and key cached; the use count rides the record's insert as a `with` clause (was 6).
    expect(await statementsOf(() => verify(s, caller, { key }))).toEqual(['with t0 as']);
  });

  it('device authorization', async () => {
    // Client cached; the new row rides the record's insert as a `with` clause (was 7, then 4).
    expect(
      await statementsOf(() => postAs(s, '/oauth/device_authorization', deviceClient, { scope: 'read' })),
    ).toEqual(['with t0 as']);
  });

  it('device authorization, many at once: one statement for the batch', async () => {
    const request = () => postAs(s, '/oauth/device_authorization', deviceClient, { scope: 'read' });
    expect((await request()).statusCode).toBe(200);
    await s.services.audit.drain();
    counter.reset();
    const answers = await Promise.all(Array.from({ length: 20 }, request));
    await s.services.audit.drain();
    expect(answers.every((a) => a.statusCode === 200)).toBe(true);
    // However the 20 fall into batches, each batch is one statement, never one per request.
    expect(counter.texts.every((t) => t.startsWith('with t0 as'))).toBe(true);
    expect(counter.texts.length).toBeLessThan(20);
  });

  it('pending polls, many at once: the lookups, and one statement records the polls that arrive together', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await postAs(s, '/oauth/device_authorization', deviceClient, { scope: 'read' });
      codes.push(res.json().device_code as string);
    }
    await s.services.audit.drain();
    counter.reset();
    const answers = await Promise.all(
      codes.map((device_code) =>
        postAs(s, '/oauth/token', deviceClient, {
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          device_code,
        }),
      ),
    );
    expect(answers.map((a) => a.json().error)).toEqual(codes.map(() => 'authorization_pending'));
    // One lookup each; the polls' timestamps in batches (the first alone), never one statement per poll.
    const writes = counter.texts.filter((t) => !t.startsWith('select'));
    expect(counter.texts.length - writes.length).toBe(20);
    expect(writes.some((t) => t.startsWith('with polled'))).toBe(true);
    expect(writes.length).toBeLessThan(10);
  });

  it('introspection of a token seen before', async () => {
    const token = (await cc()).json().access_token as string;
    // Client and the not-revoked answer cached (was 2).
    expect(await statementsOf(() => introspect(s, caller, token))).toEqual([]);
  });
});
