/**
 * What the storage contract suite runs against: a real database of one dialect, opened twice (two
 * instances on one database), an audit log on the first, a hand-moved clock, and every way one store op
 * can run — so each guarded transition is checked on every path it takes in production.
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { openDatabase } from '@clavis/server';
import type { Kysely } from 'kysely';
import { TestClock } from '../../../../../test/support/clock.js';
import {
  createTestDatabase,
  type TestDatabase,
  type TestDialect,
} from '../../../../../test/support/dialects.js';
import { AuditLog } from '../../../src/audit/audit_log.js';
import { syncDriver } from '../../../src/storage/raw.js';
import type { Database, DeviceCodeRow } from '../../../src/storage/schema.js';
import { runOp, runOpSync, type StoreOp } from '../../../src/storage/store_op.js';

export interface ContractStore {
  dialect: TestDialect;
  /** The first instance's handle (the one the audit log writes through). */
  db: Kysely<Database>;
  /** A second instance on the same database. */
  other: Kysely<Database>;
  audit: AuditLog;
  clock: TestClock;
  close(): Promise<void>;
}

export async function openContractStore(dialect: TestDialect): Promise<ContractStore> {
  const database: TestDatabase = await createTestDatabase(dialect);
  const first = await openDatabase(database.url, { poolSize: 10 });
  const second = await openDatabase(database.url, { poolSize: 10 });
  const clock = new TestClock();
  const audit = await AuditLog.open(first.db, {
    clock: clock.read,
    key: createSecretKey(randomBytes(32)),
    writer: 'contract',
  });
  return {
    dialect,
    db: first.db,
    other: second.db,
    audit,
    clock,
    async close() {
      await audit.close();
      await second.close();
      await first.close();
      await database.drop();
    },
  };
}

/** One way to run a store op. */
export interface OpPath {
  name: string;
  run<T>(op: StoreOp<T>): Promise<T>;
}

/**
 * Every way an op runs: on the root handle, inside a transaction, on the second instance, in the audit
 * log's group commit (synchronous on SQLite), and on SQLite synchronously on the held connection.
 */
export function opPaths(store: ContractStore): OpPath[] {
  const paths: OpPath[] = [
    { name: 'root handle', run: (op) => runOp(store.db, op) },
    { name: 'transaction', run: (op) => store.db.transaction().execute((tx) => runOp(tx, op)) },
    { name: 'second instance', run: (op) => runOp(store.other, op) },
    { name: 'group commit', run: (op) => store.audit.run(op, () => null) },
    { name: 'apart from its record', run: (op) => store.audit.run(op, () => null, { mayCommitApart: true }) },
  ];
  const driver = syncDriver(store.db);
  if (driver) paths.push({ name: 'sync connection', run: (op) => driver.exclusive((c) => runOpSync(c, op)) });
  return paths;
}

/** Runs `n` calls at once, spread over every path; resolves to their outcomes in call order. */
export function race<T>(store: ContractStore, n: number, op: (i: number) => StoreOp<T>): Promise<T[]> {
  const paths = opPaths(store);
  return Promise.all(Array.from({ length: n }, (_, i) => (paths[i % paths.length] as OpPath).run(op(i))));
}

export function deviceCodeRow(
  id: string,
  now: number,
  overrides: Partial<DeviceCodeRow> = {},
): DeviceCodeRow {
  return {
    id,
    device_code_hash: `hash_${id}`,
    user_code: `uc_${id}`,
    client_id: 'cli_contract',
    scopes: JSON.stringify(['read']),
    status: 'pending',
    interval: 5,
    last_polled_at: null,
    created_at: now,
    expires_at: now + 600_000,
    requester_ip: '198.51.100.7',
    requester_user_agent: 'contract/1.0',
    claimed_by_session: null,
    user_id: null,
    decided_at: null,
    consumed_at: null,
    family_id: null,
    auth_time: null,
    amr: null,
    ...overrides,
  };
}

export async function insertApiKey(
  db: Kysely<Database>,
  id: string,
  now: number,
  overrides: { max_uses?: number | null; expires_at?: number; revoked_at?: number | null } = {},
): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({
      id,
      key_hash: `hash_${id}`,
      owner_type: 'client',
      owner_id: 'cli_contract',
      name: id,
      scopes: JSON.stringify(['read']),
      created_at: now,
      expires_at: overrides.expires_at ?? now + 86_400_000,
      cidrs: null,
      max_uses: overrides.max_uses === undefined ? 3 : overrides.max_uses,
      rate_limit: null,
      created_by: null,
      created_from: null,
      last_used_at: null,
      last_used_ip: null,
      revoked_at: overrides.revoked_at ?? null,
      revoked_reason: overrides.revoked_at ? 'admin' : null,
      predecessor_id: null,
      successor_id: null,
      minted_by_jti: null,
    })
    .execute();
}

export const wins = (outcomes: readonly unknown[]): number =>
  outcomes.filter((o) => o !== false && o !== null).length;
