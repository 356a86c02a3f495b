/**
 * The audit log outside the database: `serve` signs its seals with an audit key only it holds, appends
 * each to an anchor file and its log, refuses to start when the anchor's newest seal is gone, and seals
 * the head of every segment whose writer is gone. Real `startServer` on real storage; the clock is
 * injected and moved by hand.
 */
import { generateKeyPairSync } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  AuditAnchorError,
  type AuditEntry,
  type RunningServer,
  readAnchor,
  startServer,
  verifyAuditLog,
} from '@clavis/server';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../../../../test/support/audit.js';
import { TestClock } from '../../../../test/support/clock.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { AuditLog, DEFAULT_LEASE_MS } from '../../src/audit/audit_log.js';
import { recordHash, sealHash, signSeal } from '../../src/audit/chain.js';

function entry(n: number | string): AuditEntry {
  return { event: 'token.issue', actor: { type: 'client', id: 'svc_test' }, detail: { n } };
}

describe.each(dialects)('audit anchor and abandoned segments (%s)', (dialect) => {
  let database: TestDatabase;
  let clock: TestClock;
  let logLines: string[];
  const running: Array<RunningServer | TestServer> = [];

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    clock = new TestClock();
    logLines = [];
  });
  afterEach(async () => {
    for (const s of running.splice(0).reverse()) await s.close();
    await database.drop();
  });

  const anchorFile = () => join(database.dir, 'clavis.audit-anchor');

  async function serve(options: { auditAnchorCheck?: 'refuse' | 'warn' } = {}): Promise<RunningServer> {
    const sink = new Writable({
      write(chunk, _encoding, callback) {
        logLines.push(...chunk.toString().split('\n').filter(Boolean));
        callback();
      },
    });
    const server = await startServer({
      dbUrl: database.url,
      port: 0,
      host: '127.0.0.1',
      kekFile: join(database.dir, 'clavis.kek'),
      auditAnchorFile: anchorFile(),
      adminPassword: 'correct horse battery staple',
      config: { clock: clock.read },
      logger: pino({ level: 'info' }, sink),
      // The tests seal by hand: no background tick.
      sealIntervalMs: 3_600_000,
      ...options,
    });
    running.push(server);
    return server;
  }

  async function stop(server: RunningServer | TestServer): Promise<void> {
    running.splice(running.indexOf(server), 1);
    await server.close();
  }

  const verify = async (server: { services: RunningServer['services'] }, withAnchor = true) =>
    verifyChain(server, {
      now: clock.now,
      ...(withAnchor ? { anchors: [await readAnchor(anchorFile())] } : {}),
    });

  it('every seal serve writes is signed, appended to the anchor (0600) and logged; verify --anchor passes', async () => {
    const server = await serve();
    for (let i = 1; i <= 3; i++) await server.services.audit.record(entry(i));
    await server.services.audit.seal();
    await server.services.audit.record(entry(4));
    const { auditKey } = server.services;
    await stop(server);
    const reopened = await createTestServer(dialect, { database, clock });
    running.push(reopened);
    const { db } = reopened.services;

    expect(statSync(anchorFile()).mode & 0o777).toBe(0o600);
    expect(statSync(join(database.dir, 'clavis-audit.key')).mode & 0o777).toBe(0o600);
    const anchor = await readAnchor(anchorFile());
    expect(anchor.publicKeys).toHaveLength(1);
    const seals = await db.selectFrom('audit_seals').selectAll().orderBy('seq').execute();
    expect(seals).toHaveLength(2);
    expect(anchor.seals).toEqual(
      seals.map((s) => ({
        seq: s.seq,
        at: s.at,
        segment: s.segment,
        segment_seq: s.segment_seq,
        hash: s.hash,
        signature: s.signature,
      })),
    );
    for (const s of seals) expect(s.signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    const logged = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'audit seal');
    expect(logged.map((l) => [l.audit_seal.seq, l.audit_seal.hash])).toEqual(
      seals.map((s) => [s.seq, s.hash]),
    );
    expect(logLines.join('\n')).not.toContain('PRIVATE KEY');

    expect(await verifyAuditLog(reopened.services.db, auditKey, { now: clock.now })).toMatchObject({
      ok: true,
    });
    expect(await verify(reopened)).toMatchObject({ ok: true, seals: 2, anchored: 2, unsealed: 0 });
  });

  it('deleting the newest seals and the records they cover is found by verify --anchor, and serve refuses to start', async () => {
    const server = await serve();
    for (let i = 1; i <= 3; i++) await server.services.audit.record(entry(i));
    await server.services.audit.seal();
    const segment = server.services.audit.segment;
    const firstSeal = await server.services.db
      .selectFrom('audit_seals')
      .selectAll()
      .orderBy('seq', 'desc')
      .executeTakeFirstOrThrow();
    await server.services.audit.record(entry('to be deleted'));
    await stop(server);

    const admin = await createTestServer(dialect, { database, clock });
    running.push(admin);
    const { db } = admin.services;
    const deleted = await db.deleteFrom('audit_seals').where('seq', '>', firstSeal.seq).executeTakeFirst();
    expect(Number(deleted.numDeletedRows)).toBe(1);
    await db
      .deleteFrom('audit_events')
      .where('segment', '=', segment)
      .where('seq', '>', firstSeal.segment_seq)
      .execute();
    // Without the anchor, the truncation is invisible.
    expect(await verify(admin, false)).toMatchObject({ ok: true, unsealed: 0 });
    expect(await verify(admin)).toMatchObject({
      ok: false,
      broken: {
        where: `seal:${firstSeal.seq + 1}`,
        reason: `in the anchor ${anchorFile()} but missing from the database`,
      },
    });
    await stop(admin);

    await expect(serve()).rejects.toThrow(AuditAnchorError);
    await expect(serve()).rejects.toThrow(
      `ends with seal ${firstSeal.seq + 1}, which is missing from the database`,
    );
    // An explicit override starts, loudly.
    logLines = [];
    await serve({ auditAnchorCheck: 'warn' });
    expect(
      logLines.some((l) => JSON.parse(l).level === 50 && l.includes('CLAVIS_AUDIT_ANCHOR_CHECK=warn')),
    ).toBe(true);
  });

  it('a seal forged by a KEK holder without the audit private key fails verify --anchor', async () => {
    const server = await serve();
    for (let i = 1; i <= 3; i++) await server.services.audit.record(entry(i));
    await server.services.audit.seal();
    const segment = server.services.audit.segment;
    await stop(server);

    const admin = await createTestServer(dialect, { database, clock });
    running.push(admin);
    const { db, auditKey } = admin.services;
    // The KEK holder rewrites record 2 onwards and recomputes every HMAC, the seal's included.
    const records = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('segment', '=', segment)
      .orderBy('seq')
      .execute();
    let prev = records[0]?.hash ?? '';
    for (const row of records.slice(1)) {
      const forged = {
        ...row,
        detail: row.seq === 2 ? JSON.stringify({ n: 'rewritten' }) : row.detail,
        prev_hash: prev,
      };
      const hash = recordHash(auditKey, forged);
      await db
        .updateTable('audit_events')
        .set({ detail: forged.detail, prev_hash: prev, hash })
        .where('segment', '=', segment)
        .where('seq', '=', row.seq)
        .execute();
      prev = hash;
    }
    const seal = await db
      .selectFrom('audit_seals')
      .selectAll()
      .where('segment', '=', segment)
      .orderBy('seq', 'desc')
      .executeTakeFirstOrThrow();
    const fields = { ...seal, segment_hash: prev };
    const hash = sealHash(auditKey, fields);
    // Signed with a key of the forger's own: not the one the anchor names.
    const forgerKey = generateKeyPairSync('ed25519').privateKey;
    await db
      .updateTable('audit_seals')
      .set({ segment_hash: prev, hash, signature: signSeal(forgerKey, { ...fields, hash }) })
      .where('seq', '=', seal.seq)
      .execute();
    expect(await verify(admin, false)).toMatchObject({ ok: true });
    expect(await verify(admin)).toMatchObject({
      ok: false,
      broken: {
        where: `seal:${seal.seq}`,
        reason: 'signature does not verify with the audit key of the anchor',
      },
    });
    // Without a signature, it no longer matches what the anchor recorded.
    await db.updateTable('audit_seals').set({ signature: null }).where('seq', '=', seal.seq).execute();
    expect(await verify(admin)).toMatchObject({
      ok: false,
      broken: { where: `seal:${seal.seq}`, reason: `differs from the anchor ${anchorFile()}` },
    });
  });

  it('a writer that stopped without sealing (a crash) and an exited admin command are sealed by the next serve start', async () => {
    const first = await serve();
    await first.services.audit.record(entry('first'));
    // A second writer that dies without sealing: its records stay unsealed.
    const crashed = await AuditLog.open(first.services.db, {
      clock: clock.read,
      key: first.services.auditKey,
      writer: 'serve',
    });
    for (let i = 1; i <= 3; i++) await crashed.record(entry(`crashed ${i}`));
    await stop(first);
    // An admin command: seals its own segment (unsigned: it holds no audit key) and exits.
    const admin = await createTestServer(dialect, { database, clock });
    await admin.services.audit.record(entry('admin'));
    const adminSegment = admin.services.audit.segment;
    expect(await verify(admin, false)).toMatchObject({ ok: true, unsealed: 3 + 1 });
    await admin.close();

    // Within the lease, the writer may still be alive: a start leaves its segment alone.
    clock.advance(DEFAULT_LEASE_MS - 1);
    const second = await serve();
    const sealsOf = (segment: string) =>
      second.services.db.selectFrom('audit_seals').selectAll().where('segment', '=', segment).execute();
    expect(await sealsOf(crashed.segment)).toEqual([]);
    await stop(second);

    clock.advance(2);
    const third = await serve();
    const crashedSeals = await third.services.db
      .selectFrom('audit_seals')
      .selectAll()
      .where('segment', '=', crashed.segment)
      .execute();
    expect(crashedSeals.map((s) => [s.segment_seq, s.signature !== null])).toEqual([[3, true]]);
    const adminSeals = await third.services.db
      .selectFrom('audit_seals')
      .selectAll()
      .where('segment', '=', adminSegment)
      .orderBy('seq')
      .execute();
    expect(adminSeals.map((s) => [s.segment_seq, s.signature !== null])).toEqual([
      [1, false],
      [1, true],
    ]);
    expect(await verify(third)).toMatchObject({ ok: true, unsealed: 0 });
    // Both are in the anchor now: deleting the admin command's segment is detected.
    await third.services.db.deleteFrom('audit_events').where('segment', '=', adminSegment).execute();
    await third.services.db.deleteFrom('audit_segments').where('id', '=', adminSegment).execute();
    await third.services.db.deleteFrom('audit_seals').where('segment', '=', adminSegment).execute();
    expect(await verify(third)).toMatchObject({
      ok: false,
      broken: { reason: expect.stringMatching(/^(seal missing|in the anchor)/) },
    });
  });
});

describe.each(dialects)('abandoned segments without serve (%s)', (dialect) => {
  const open: TestServer[] = [];
  afterEach(async () => {
    for (const s of open.splice(0).reverse()) await s.close();
  });

  async function crashedWriter() {
    const server = await createTestServer(dialect);
    open.push(server);
    const crashed = await AuditLog.open(server.services.db, {
      clock: server.clock.read,
      key: server.services.auditKey,
      writer: 'serve',
    });
    for (let i = 1; i <= 3; i++) await crashed.record(entry(i));
    return { server, crashed };
  }

  it('records left unsealed for longer than the allowed age fail verification', async () => {
    const { server, crashed } = await crashedWriter();
    const { db, auditKey } = server.services;
    const now = server.clock.now;
    expect(await verifyAuditLog(db, auditKey, { now: now + 29_000 })).toMatchObject({
      ok: true,
      unsealed: 3,
      stale_unsealed: 0,
    });
    expect(await verifyAuditLog(db, auditKey, { now: now + 31_000 })).toMatchObject({
      ok: false,
      unsealed: 3,
      stale_unsealed: 3,
      broken: {
        where: `${crashed.segment}:1`,
        reason:
          '3 records unsealed for longer than 30s: their writer stopped without sealing them (start serve to seal them)',
      },
    });
    expect(await verifyAuditLog(db, auditKey, { now: now + 31_000, maxUnsealedAgeMs: 60_000 })).toMatchObject(
      {
        ok: true,
      },
    );
  });

  it('a live writer keeps its segment by its heartbeat; once it stops, two sweepers seal its head once', async () => {
    const { server, crashed } = await crashedWriter();
    const other = await createTestServer(dialect, { database: server.database, clock: server.clock });
    open.push(other);
    server.clock.advance(DEFAULT_LEASE_MS - 1000);
    await crashed.heartbeat();
    server.clock.advance(DEFAULT_LEASE_MS - 1000);
    expect(await server.services.audit.sealAbandoned()).toBe(0);

    server.clock.advance(2000);
    const swept = await Promise.all([
      server.services.audit.sealAbandoned(),
      other.services.audit.sealAbandoned(),
    ]);
    expect(swept.reduce((a, b) => a + b, 0)).toBe(1);
    const seals = await server.services.db
      .selectFrom('audit_seals')
      .selectAll()
      .where('segment', '=', crashed.segment)
      .execute();
    expect(seals.map((s) => s.segment_seq)).toEqual([3]);
    expect(
      (
        await server.services.db
          .selectFrom('audit_segments')
          .select('alive_until')
          .where('id', '=', crashed.segment)
          .executeTakeFirstOrThrow()
      ).alive_until,
    ).toBeNull();
    expect(await verifyChain(server, { now: server.clock.now + 60_000 })).toMatchObject({
      ok: true,
      unsealed: 0,
    });
  });
});
