/**
 * Audit growth bounded: sealed records archived to files verify on their own (chain key, anchor), are
 * pruned from the database only as archived, and the log that remains still verifies, its first record
 * linked to the last pruned one. A tampered archive line is found; a prune that does not match is refused.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAnchor } from '@clavis/server';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { startRealServer } from '../../../../test/support/real_server.js';
import { type TempDir, tempDir } from '../../../../test/support/temp_dir.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { AuditArchiveError, archiveAudit, pruneAudit, verifyAuditArchive } from '../../src/audit/archive.js';

const ADMIN = { type: 'admin' as const, id: 'test' };

describe.each(dialects)('audit archive and prune (%s)', (dialect) => {
  let server: TestServer;
  let dir: TempDir;
  afterEach(async () => {
    await server.close();
    dir.remove();
  });

  /** `n` records, then a seal, `step` seconds later each time. */
  async function recordAndSeal(n: number) {
    for (let i = 0; i < n; i++)
      await server.services.audit.record({ event: 'client.update', actor: ADMIN, detail: { i } });
    await server.services.audit.seal();
    server.clock.advanceSeconds(60);
  }

  async function count(table: 'audit_events' | 'audit_seals') {
    const row = await server.services.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  it('archive → prune → verify: the archive and the remaining log both verify, twice over', async () => {
    server = await createTestServer(dialect);
    dir = tempDir('clavis-archive-');
    const key = server.services.auditKey;
    await recordAndSeal(5);
    await recordAndSeal(5);
    const cut = server.clock.now;
    await recordAndSeal(5);
    await recordAndSeal(1);
    const before = await count('audit_events');

    const first = join(dir.path, 'a1');
    const manifest = await archiveAudit(server.services.db, {
      before: cut,
      dir: first,
      now: server.clock.now,
    });
    expect(manifest?.seals).toMatchObject({ from: 1 });
    const archived = verifyAuditArchive(first, key);
    expect(archived).toMatchObject({ ok: true });
    expect(archived.records).toBe(manifest?.records);
    expect(archived.records).toBeGreaterThanOrEqual(10);

    const pruned = await pruneAudit(server.services.db, server.services.audit, key, {
      dir: first,
      actor: ADMIN,
    });
    expect(pruned.records).toBe(archived.records);
    expect(await count('audit_events')).toBe(before - pruned.records + 1); // + the audit.prune record
    expect((await verifyChain(server, { now: server.clock.now })).broken).toBeUndefined();

    // The same archive cannot be pruned twice.
    await expect(
      pruneAudit(server.services.db, server.services.audit, key, { dir: first, actor: ADMIN }),
    ).rejects.toThrow(AuditArchiveError);

    // A second archive continues where the first ended, and prunes too.
    await server.services.audit.seal();
    server.clock.advanceSeconds(60);
    await recordAndSeal(2);
    const second = join(dir.path, 'a2');
    const next = await archiveAudit(server.services.db, {
      before: server.clock.now,
      dir: second,
      now: server.clock.now,
    });
    expect(next?.seals.from).toBe((manifest?.seals.to ?? 0) + 1);
    expect(verifyAuditArchive(second, key)).toMatchObject({ ok: true });
    await pruneAudit(server.services.db, server.services.audit, key, { dir: second, actor: ADMIN });
    await server.services.audit.seal();
    expect(await verifyChain(server, { now: server.clock.now })).toMatchObject({ ok: true });

    // Deleting a remaining record is still found.
    const victim = await server.services.db
      .selectFrom('audit_events')
      .select(['segment', 'seq'])
      .where('event', '=', 'client.update')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    await server.services.db
      .deleteFrom('audit_events')
      .where('segment', '=', victim.segment)
      .where('seq', '=', victim.seq)
      .execute();
    expect((await verifyChain(server, { now: server.clock.now })).ok).toBe(false);
  });

  it('a tampered archive line is detected, and such an archive is never pruned', async () => {
    server = await createTestServer(dialect);
    dir = tempDir('clavis-archive-');
    const key = server.services.auditKey;
    await recordAndSeal(4);
    const cut = server.clock.now;
    await recordAndSeal(1);
    const archive = join(dir.path, 'a');
    await archiveAudit(server.services.db, { before: cut, dir: archive, now: server.clock.now });
    const file = join(archive, 'records.jsonl');
    const original = readFileSync(file, 'utf8');

    // One field of one line changed.
    writeFileSync(file, original.replace('"i\\":1', '"i\\":7'));
    expect(verifyAuditArchive(archive, key)).toMatchObject({
      ok: false,
      broken: { where: 'records.jsonl', reason: 'does not match the digest in manifest.json' },
    });
    // The digest in the manifest recomputed too: the record's own hash still gives it away.
    const manifestFile = join(archive, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    manifest.files['records.jsonl'] = createHash('sha256').update(readFileSync(file)).digest('hex');
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const tampered = verifyAuditArchive(archive, key);
    expect(tampered.ok).toBe(false);
    expect(tampered.broken?.reason).toBe('content does not match its hash');
    const kept = await count('audit_events');
    await expect(
      pruneAudit(server.services.db, server.services.audit, key, { dir: archive, actor: ADMIN }),
    ).rejects.toThrow(/does not verify/);
    expect(await count('audit_events')).toBe(kept);

    // A line removed is found as a missing record.
    const lines = original.split('\n');
    writeFileSync(file, [...lines.slice(0, 1), ...lines.slice(2)].join('\n'));
    manifest.files['records.jsonl'] = createHash('sha256').update(readFileSync(file)).digest('hex');
    writeFileSync(manifestFile, JSON.stringify(manifest));
    expect(verifyAuditArchive(archive, key).broken?.reason).toBe('record missing');
  });

  it('leaves the newest seal and everything after the cut', async () => {
    server = await createTestServer(dialect);
    dir = tempDir('clavis-archive-');
    await recordAndSeal(3);
    // Only one seal, which the next one must link to: nothing to archive.
    expect(
      await archiveAudit(server.services.db, { before: server.clock.now, dir: join(dir.path, 'x'), now: 0 }),
    ).toBeUndefined();
  });
});

describe.each(dialects)('audit archive with the anchor (%s)', (dialect) => {
  it("verifies serve's signed seals against the anchor, and finds a forged signature", async () => {
    const server = await startRealServer(dialect);
    const dir = tempDir('clavis-archive-');
    try {
      const { services, auditAnchor } = server.running;
      expect(auditAnchor).toBeDefined();
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 3; i++)
          await services.audit.record({ event: 'client.update', actor: ADMIN, detail: { round, i } });
        await services.audit.drain();
        await services.audit.seal();
      }
      const anchors = [await readAnchor(auditAnchor ?? '')];
      const archive = join(dir.path, 'a');
      const manifest = await archiveAudit(services.db, {
        before: Date.now() + 1000,
        dir: archive,
        now: Date.now(),
      });
      expect(manifest).toBeDefined();
      const verified = verifyAuditArchive(archive, services.auditKey, { anchors });
      expect(verified).toMatchObject({ ok: true });
      expect(verified.anchored).toBeGreaterThanOrEqual(2);

      // A seal re-signed by someone else (here: its signature swapped for another seal's).
      const file = join(archive, 'seals.jsonl');
      const seals = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const signed = seals.filter((s) => s.signature !== null);
      expect(signed.length).toBeGreaterThanOrEqual(2);
      signed[0].signature = signed[1].signature;
      writeFileSync(file, `${seals.map((s) => JSON.stringify(s)).join('\n')}\n`);
      const manifestFile = join(archive, 'manifest.json');
      const m = JSON.parse(readFileSync(manifestFile, 'utf8'));
      m.files['seals.jsonl'] = createHash('sha256').update(readFileSync(file)).digest('hex');
      writeFileSync(manifestFile, JSON.stringify(m));
      expect(verifyAuditArchive(archive, services.auditKey, { anchors }).broken?.reason).toBe(
        'signature does not verify with the audit key of the anchor',
      );
    } finally {
      await server.close();
      dir.remove();
    }
  });
});
