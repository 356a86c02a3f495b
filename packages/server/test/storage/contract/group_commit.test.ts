/**
 * Store ops in the audit log's group commit (`AuditLog.run`), on both dialects: the op and its record
 * commit together or not at all, an op that fails fails alone, an op sharing a batch with `transact`
 * work still runs, an op may commit apart from its record, and ops do not announce changes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../../test/support/dialects.js';
import type { AuditEntry } from '../../../src/audit/events.js';
import { insertDeviceCode } from '../../../src/device/device_store.js';
import { claimOnce } from '../../../src/storage/replay_guard.js';
import { type ContractStore, deviceCodeRow, openContractStore } from './store.js';

const entry = (id: string): AuditEntry => ({
  event: 'device.request',
  actor: { type: 'client', id: 'cli_contract' },
  detail: { device_request: id },
});

describe.each(dialects)('store ops in the group commit (%s)', (dialect) => {
  let store: ContractStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  async function open(): Promise<ContractStore> {
    store = await openContractStore(dialect);
    return store;
  }

  async function records(s: ContractStore): Promise<string[]> {
    const rows = await s.db
      .selectFrom('audit_events')
      .select('detail')
      .orderBy('segment')
      .orderBy('seq')
      .execute();
    return rows.map((r) => (JSON.parse(r.detail) as { device_request: string }).device_request);
  }

  it('an op and its record commit together; a failing op leaves no record and fails only itself', async () => {
    const s = await open();
    const now = s.clock.now;
    const outcomes = await Promise.allSettled([
      s.audit.run(insertDeviceCode(deviceCodeRow('dev_a', now)), entry('dev_a')),
      s.audit.run(insertDeviceCode(deviceCodeRow('dev_b', now, { user_code: 'uc_dev_a' })), entry('dev_b')),
      s.audit.run(insertDeviceCode(deviceCodeRow('dev_c', now)), entry('dev_c')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await records(s)).toEqual(['dev_a', 'dev_c']);
    const stored = await s.db.selectFrom('device_codes').select('id').orderBy('id').execute();
    expect(stored.map((r) => r.id)).toEqual(['dev_a', 'dev_c']);
  });

  it('the record follows the op’s result: none when the entry function says null', async () => {
    const s = await open();
    const until = s.clock.now + 60_000;
    const won = (id: string) => (claimed: boolean) => (claimed ? entry(id) : null);
    expect(await s.audit.run(claimOnce('jti:1', until), won('first'))).toBe(true);
    expect(await s.audit.run(claimOnce('jti:1', until), won('replay'))).toBe(false);
    expect(await s.audit.run(claimOnce('jti:2', until), won('apart'), { mayCommitApart: true })).toBe(true);
    expect(await s.audit.run(claimOnce('jti:2', until), won('apart replay'), { mayCommitApart: true })).toBe(
      false,
    );
    expect(await records(s)).toEqual(['first', 'apart']);
  });

  it('an op sharing a batch with transact work still runs, with its result', async () => {
    const s = await open();
    const now = s.clock.now;
    const until = now + 60_000;
    // Queued in one turn: one batch, which the transact unit makes an asynchronous transaction.
    const [, claimed, replayed] = await Promise.all([
      s.audit.transact(
        (tx) => tx.insertInto('replay_guard').values({ key: 'jti:tx', expires_at: until }).execute(),
        entry('tx'),
      ),
      s.audit.run(claimOnce('jti:batch', until), (won) => (won ? entry('claim') : null)),
      s.audit.run(claimOnce('jti:tx-later', until), () => null),
      s.audit.run(insertDeviceCode(deviceCodeRow('dev_batch', now)), entry('dev_batch')),
    ]);
    expect(claimed).toBe(true);
    expect(replayed).toBe(true);
    const keys = await s.db.selectFrom('replay_guard').select('key').orderBy('key').execute();
    expect(keys.map((k) => k.key)).toEqual(['jti:batch', 'jti:tx', 'jti:tx-later']);
    expect(await records(s)).toEqual(['tx', 'claim', 'dev_batch']);
  });

  it('ops announce no change; transact work does', async () => {
    const s = await open();
    let changes = 0;
    s.audit.onChange(() => changes++);
    await s.audit.run(claimOnce('jti:quiet', s.clock.now + 60_000), () => null);
    await s.audit.run(insertDeviceCode(deviceCodeRow('dev_quiet', s.clock.now)), entry('dev_quiet'));
    expect(changes).toBe(0);
    await s.audit.transact(async () => undefined, entry('loud'));
    expect(changes).toBe(1);
  });
});
