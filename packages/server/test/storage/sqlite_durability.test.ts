import { existsSync, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeSqliteDialect, type NodeSqliteDriver } from '../../src/storage/dialects/node_sqlite.js';
import { WalCheckpointer } from '../../src/storage/dialects/wal_checkpointer.js';
import { WalDurability } from '../../src/storage/dialects/wal_durability.js';
import { rawExec, rawRows, registerSyncDriver } from '../../src/storage/raw.js';

/**
 * Commits are made durable off the event loop: the connection writes the log (synchronous=NORMAL) and
 * the log is synced on the thread pool before any result is handed back; checkpoints of a serving
 * process run on a worker thread. The sync is injected here so a test can hold it and see that nothing
 * is acknowledged before it completes.
 */
describe('SQLite durability off the event loop', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A gate the injected sync waits at: `open()` lets the syncs through. */
  function heldSync() {
    let syncs = 0;
    let open!: () => void;
    let failure: Error | undefined;
    let gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    return {
      get syncs() {
        return syncs;
      },
      open: () => open(),
      close: () => {
        gate = new Promise<void>((resolve) => {
          open = resolve;
        });
      },
      fail: (err: Error) => {
        failure = err;
        open();
      },
      syncFile: async (file: FileHandle) => {
        syncs++;
        await gate;
        if (failure) throw failure;
        await file.datasync();
      },
    };
  }

  async function openDb(options: { syncFile?: (file: FileHandle) => Promise<void>; background?: boolean }) {
    const dir = await mkdtemp(join(tmpdir(), 'clavis-durability-'));
    const path = join(dir, 'db.sqlite');
    const dialect = new NodeSqliteDialect({
      path,
      ...(options.syncFile ? { syncFile: options.syncFile } : {}),
      backgroundCheckpoints: options.background ?? false,
    });
    const db = new Kysely<Record<string, Record<string, unknown>>>({ dialect });
    await sql`select 1`.execute(db);
    const driver = dialect.driver as NodeSqliteDriver;
    registerSyncDriver(db, driver);
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await db.destroy();
    };
    cleanups.push(async () => {
      await close();
      await rm(dir, { recursive: true, force: true });
    });
    return { db, driver, path, close };
  }

  /** Whether `promise` settles within a few turns of the event loop. */
  async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
    let settled = false;
    promise.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    return settled;
  }

  it('runs the connection with synchronous=NORMAL: the log is synced by the driver, not inside COMMIT', async () => {
    const { driver } = await openDb({});
    const mode = await driver.exclusive((c) => c.runSync('pragma synchronous', []).rows[0]);
    expect(mode).toEqual({ synchronous: 1 });
  });

  it('keeps statement journals in memory (temp_store=MEMORY), not in temporary files', async () => {
    const { driver } = await openDb({});
    expect(await driver.exclusive((c) => c.runSync('pragma temp_store', []).rows[0])).toEqual({
      temp_store: 2,
    });
  });

  it('a write through the group-commit path resolves only after the log is synced', async () => {
    const sync = heldSync();
    const { driver } = await openDb({ syncFile: sync.syncFile });
    sync.open();
    await driver.exclusive((c) => c.runSync('create table t (v integer)', []));
    sync.close();
    const before = sync.syncs;

    const write = driver.exclusive((c) => c.runSync('insert into t values (1)', []).changes);
    expect(await settlesSoon(write)).toBe(false);
    expect(sync.syncs).toBe(before + 1);
    sync.open();
    expect(await write).toBe(1);
  });

  it('Kysely statements and transactions, and the raw fast path, wait for the sync too', async () => {
    const sync = heldSync();
    const { db, driver } = await openDb({ syncFile: sync.syncFile });
    sync.open();
    await sql`create table t (v integer)`.execute(db);
    sync.close();

    const autocommit = db.insertInto('t').values({ v: 1 }).execute();
    expect(await settlesSoon(autocommit)).toBe(false);
    sync.open();
    await autocommit;
    sync.close();

    const transaction = db.transaction().execute(async (tx) => {
      await tx.insertInto('t').values({ v: 2 }).execute();
      await tx.insertInto('t').values({ v: 3 }).execute();
    });
    expect(await settlesSoon(transaction)).toBe(false);
    sync.open();
    await transaction;
    sync.close();

    const raw = rawExec(db, 'insert into t values (?)', [4]);
    expect(await settlesSoon(raw)).toBe(false);
    // A read made while a commit is not yet durable waits for it as well: it may be showing that commit.
    const read = rawRows(db, 'select count(*) as n from t', []);
    expect(await settlesSoon(read)).toBe(false);
    sync.open();
    expect(await raw).toBe(1);
    expect(await read).toEqual([{ n: 4 }]);
    // Nothing pending: a read is answered at once, without a sync.
    const syncs = sync.syncs;
    expect(await rawRows(db, 'select count(*) as n from t', [])).toEqual([{ n: 4 }]);
    expect(sync.syncs).toBe(syncs);
    expect(driver.settled()).toBeUndefined();
  });

  it('a rolled-back or read-only transaction writes nothing to the log and waits for no sync', async () => {
    const sync = heldSync();
    const { db, driver } = await openDb({ syncFile: sync.syncFile });
    sync.open();
    await sql`create table t (v integer)`.execute(db);
    sync.close();
    const before = sync.syncs;

    const rolledBack = db
      .transaction()
      .execute(async (tx) => {
        await tx.insertInto('t').values({ v: 1 }).execute();
        throw new Error('changed my mind');
      })
      .catch((err: unknown) => err);
    expect(await settlesSoon(rolledBack)).toBe(true);
    expect(await rolledBack).toEqual(new Error('changed my mind'));
    expect(await driver.exclusive((c) => c.runSync('begin', []))).toMatchObject({ changes: 0 });
    await driver.exclusive((c) => c.runSync('insert into t values (2)', []));
    await driver.exclusive((c) => c.runSync('rollback', []));
    const readOnly = db.transaction().execute((tx) => tx.selectFrom('t').selectAll().execute());
    expect(await settlesSoon(readOnly)).toBe(true);
    expect(await readOnly).toEqual([]);
    expect(sync.syncs).toBe(before);
    expect(driver.settled()).toBeUndefined();

    // A transaction that wrote and committed still waits for its sync, ended by COMMIT or by END.
    for (const end of ['commit', 'end']) {
      const written = driver.exclusive((c) => {
        c.runSync('begin', []);
        c.runSync('insert into t values (3)', []);
        return c.runSync(end, []);
      });
      expect(await settlesSoon(written)).toBe(false);
      sync.open();
      await written;
      sync.close();
    }
    expect(sync.syncs).toBe(before + 2);
  });

  it('commits made while a sync runs share the next one: 100 concurrent writes take far fewer syncs', async () => {
    const sync = heldSync();
    const { driver } = await openDb({ syncFile: sync.syncFile });
    sync.open();
    await driver.exclusive((c) => c.runSync('create table t (v integer)', []));
    const before = sync.syncs;
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        driver.exclusive((c) => c.runSync('insert into t values (?)', [i])),
      ),
    );
    // Each exclusive commits on its own turn; the syncs are shared among those committed meanwhile.
    expect(sync.syncs - before).toBeLessThan(60);
    expect(sync.syncs - before).toBeGreaterThanOrEqual(1);
  });

  it('a failed sync fails the write it covers and every later one: nothing unsynced is acknowledged', async () => {
    const sync = heldSync();
    const { driver } = await openDb({ syncFile: sync.syncFile });
    sync.open();
    await driver.exclusive((c) => c.runSync('create table t (v integer)', []));
    sync.close();
    const write = driver.exclusive((c) => c.runSync('insert into t values (1)', []));
    sync.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(write).rejects.toThrow(/could not make the SQLite write-ahead log durable.*EIO/);
    await expect(driver.exclusive((c) => c.runSync('insert into t values (2)', []))).rejects.toThrow(
      /restart the server/,
    );
  });

  it('background checkpoints: none inside commits, the worker copies the log, and other connections still see every commit', async () => {
    const { driver, path, close } = await openDb({ background: true });
    const auto = await driver.exclusive((c) => c.runSync('pragma wal_autocheckpoint', []).rows[0]);
    expect(auto).toEqual({ wal_autocheckpoint: 0 });
    await driver.exclusive((c) => c.runSync('create table t (v text)', []));
    for (let batch = 0; batch < 40; batch++) {
      await driver.exclusive((c) => {
        c.runSync('begin immediate', []);
        for (let i = 0; i < 50; i++)
          c.runSync('insert into t values (?)', [`${batch}-${i}-${'x'.repeat(200)}`]);
        c.runSync('commit', []);
      });
    }
    const version = () => driver.exclusive((c) => c.runSync('pragma data_version', []).rows[0]);
    const versionBefore = await version();
    const result = await driver.checkpoint();
    expect(result?.log).toBeGreaterThan(0);
    expect(result?.checkpointed).toBe(result?.log);
    // A checkpoint is not a change: the exact caches keyed on data_version stay warm.
    expect(await version()).toEqual(versionBefore);
    // It copied the whole log while no commit could land, so the next commit starts the log over: the
    // log holds that one commit's frames, not the 40 batches before it again.
    await driver.exclusive((c) => c.runSync("insert into t values ('after')", []));
    const next = await driver.checkpoint();
    expect(next?.log).toBeGreaterThan(0);
    expect(next?.log).toBeLessThan(10);
    expect(next?.checkpointed).toBe(next?.log);
    // Commits made while checkpoints are asked for keep the log bounded too.
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        driver.exclusive((c) => c.runSync('insert into t values (?)', [`c${i}`])),
      ),
    );
    await Promise.all([
      driver.checkpoint(),
      driver.exclusive((c) => c.runSync("insert into t values ('z')", [])),
    ]);

    // Another process's connection (like `clavis admin`) reads everything and its commit is noticed.
    const other = new DatabaseSync(path);
    expect(other.prepare('select count(*) as n from t').get()).toEqual({ n: 2202 });
    other.exec("insert into t values ('from another process')");
    other.close();
    expect(await version()).not.toEqual(versionBefore);

    await close();
    // The last connection to close checkpointed the rest and removed the log.
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reopened = new DatabaseSync(path);
    expect(reopened.prepare('select count(*) as n from t').get()).toEqual({ n: 2203 });
    reopened.close();
  });

  it('under a steady stream of commits the checkpoints it schedules itself keep the log small', async () => {
    const { driver, path } = await openDb({ background: true });
    await driver.exclusive((c) => c.runSync('create table t (v text)', []));
    const row = 'y'.repeat(400);
    // 3,000 commits one after another (each waits for its sync): a second or more of constant writing,
    // during which only the checkpointer's own timer asks for checkpoints. Without them, or with ones that
    // never catch up with the commits, the log would hold every one of these frames (~25 MB).
    for (let i = 0; i < 3000; i++)
      await driver.exclusive((c) => c.runSync('insert into t values (?)', [row]));
    expect(statSync(`${path}-wal`).size).toBeLessThan(8 * 1024 * 1024);
  });

  it('a checkpoint worker that cannot open the database reports it once and checkpoints no more', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clavis-checkpointer-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const reasons: string[] = [];
    let fellBack!: () => void;
    const fallback = new Promise<void>((resolve) => {
      fellBack = resolve;
    });
    // A folder is not a database file: the worker fails as it starts.
    const checkpointer = new WalCheckpointer(
      dir,
      (work) => work(),
      (reason) => {
        reasons.push(reason);
        fellBack();
      },
    );
    await fallback;
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^checkpoint worker failed: /);
    expect(await checkpointer.checkpoint()).toEqual({ log: -1, checkpointed: -1 });
    checkpointer.committed();
    await checkpointer.close();
    expect(reasons).toHaveLength(1);
  });

  it('a log that is not there (removed after its last checkpoint) leaves nothing to sync', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clavis-durability-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    let syncs = 0;
    const durability = new WalDurability(
      join(dir, 'gone.db-wal'),
      () => 1,
      async () => {
        syncs++;
      },
    );
    await durability.settled();
    expect(durability.settled()).toBeUndefined();
    expect(syncs).toBe(0);
    await durability.close();
  });

  it('without background checkpoints (a one-shot command) SQLite checkpoints by itself as before', async () => {
    const { driver } = await openDb({});
    const auto = await driver.exclusive((c) => c.runSync('pragma wal_autocheckpoint', []).rows[0]);
    expect(auto).toEqual({ wal_autocheckpoint: 1000 });
    expect(driver.checkpoint()).toBeUndefined();
  });
});
