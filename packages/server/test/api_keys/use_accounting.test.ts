/**
 * Every use of an API key is in the audit log, committed with it: a token exchange's use with its
 * `token.issue` record, a verification's with its `api_key.use` record. When the record cannot be
 * committed (an outage, a crash before the commit), the use is not counted either, so a key's `uses`
 * always equals the uses the audit log shows — for keys with and without a use limit, on both dialects,
 * durable before the answer.
 *
 * The failed commit is made real: a trigger in the database refuses the record.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../../../../test/support/audit.js';
import { dialects, type TestDialect } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { type Caller, createKey, exchange, keyRow, registerCaller, verify } from './support.js';

async function refuseRecords(server: TestServer, dialect: TestDialect, event: string): Promise<void> {
  const { db } = server.services;
  if (dialect === 'sqlite') {
    await sql
      .raw(`create trigger refuse_records before insert on audit_events when new.event = '${event}'
        begin select raise(abort, 'record refused'); end`)
      .execute(db);
    return;
  }
  await sql
    .raw(`create or replace function refuse_records() returns trigger language plpgsql as
      $$ begin raise exception 'record refused'; end $$`)
    .execute(db);
  await sql
    .raw(`create trigger refuse_records before insert on audit_events for each row
      when (new.event = '${event}') execute function refuse_records()`)
    .execute(db);
}

async function allowRecords(server: TestServer, dialect: TestDialect): Promise<void> {
  await sql
    .raw(`drop trigger refuse_records${dialect === 'postgres' ? ' on audit_events' : ''}`)
    .execute(server.services.db);
}

/** The uses the audit log shows for a key: its exchanges and its verifications. */
async function recordedUses(server: TestServer, keyId: string): Promise<number> {
  const issued = await auditRecords(server, 'token.issue');
  const verified = await auditRecords(server, 'api_key.use');
  return [...issued, ...verified].filter((r) => r.detail.api_key_id === keyId).length;
}

describe.each(dialects)('API key uses and their audit records commit together (%s)', (dialect) => {
  let server: TestServer;
  let owner: Caller;
  let rs: Caller;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    owner = await registerCaller(server, { scopes: ['read'] });
    rs = await registerCaller(server);
  });
  afterAll(() => server.close());

  for (const maxUses of [3, undefined]) {
    const kind = maxUses ? 'a use-limited key' : 'an unlimited key';

    it(`${kind}: an exchange whose token.issue record fails to commit uses nothing`, async () => {
      const { id, key } = await createKey(server, { owner: owner.id, maxUses });
      await refuseRecords(server, dialect, 'token.issue');
      try {
        const failed = await exchange(server, key);
        expect(failed.statusCode).toBe(500);
        expect(failed.json().access_token).toBeUndefined();
      } finally {
        await allowRecords(server, dialect);
      }
      expect(Number((await keyRow(server, id)).uses)).toBe(0);
      const ok = await exchange(server, key);
      expect(ok.statusCode, ok.body).toBe(200);
      expect(Number((await keyRow(server, id)).uses)).toBe(1);
      expect(await recordedUses(server, id)).toBe(1);
    });

    it(`${kind}: a verification whose record fails to commit uses nothing`, async () => {
      const { id, key } = await createKey(server, { owner: owner.id, maxUses });
      await refuseRecords(server, dialect, 'api_key.use');
      try {
        expect((await verify(server, rs, { key })).statusCode).toBe(500);
      } finally {
        await allowRecords(server, dialect);
      }
      expect(Number((await keyRow(server, id)).uses)).toBe(0);
      const ok = await verify(server, rs, { key, ip: '198.51.100.7' });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json().remaining_uses).toBe(maxUses === undefined ? null : maxUses - 1);
      const [record] = (await auditRecords(server, 'api_key.use')).filter((r) => r.detail.api_key_id === id);
      expect(record).toMatchObject({
        actor_type: 'client',
        actor_id: owner.id,
        client_id: rs.id,
        detail: {
          api_key_id: id,
          via: 'verify',
          caller_ip: '198.51.100.7',
          remaining_uses: maxUses === undefined ? null : maxUses - 1,
        },
      });
      expect(JSON.stringify(record)).not.toContain(key);
    });

    it(`${kind}: uses are counted durably before the answer and equal the recorded uses`, async () => {
      const { id, key } = await createKey(server, { owner: owner.id, maxUses });
      const results = await Promise.all([
        ...Array.from({ length: 4 }, () => exchange(server, key)),
        ...Array.from({ length: 4 }, (_, i) => verify(server, rs, { key, ip: `198.51.100.${i + 1}` })),
      ]);
      const succeeded = results.filter((r) => r.statusCode === 200).length;
      expect(succeeded).toBe(maxUses ?? 8);
      // Read at once, without closing or flushing anything: nothing waits in memory.
      const row = await keyRow(server, id);
      expect(Number(row.uses)).toBe(succeeded);
      expect(await recordedUses(server, id)).toBe(succeeded);
      expect(Number(row.last_used_at)).toBe(server.clock.now);
    });
  }

  it('uses committed in the same batch as changes of other kinds are counted too', async () => {
    const { id, key } = await createKey(server, { owner: owner.id });
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => verify(server, rs, { key })),
      createKey(server, { owner: owner.id }),
      ...Array.from({ length: 5 }, () => exchange(server, key)),
    ]);
    expect(results.filter((r) => 'statusCode' in r && r.statusCode === 200)).toHaveLength(10);
    expect(Number((await keyRow(server, id)).uses)).toBe(10);
    expect(await recordedUses(server, id)).toBe(10);
  });
});
