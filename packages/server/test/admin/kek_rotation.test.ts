/**
 * KEK rotation on each dialect: the signing keys and TOTP secrets are re-sealed under the new KEK in
 * one transaction, the secret hashes and the audit chain stay valid (no credential is re-issued), the
 * old KEK alone no longer opens the database, a re-run is a no-op, and a re-run after a server still on
 * the old KEK sealed something re-seals exactly that. With a key file, the new key is generated at its
 * top and the old one kept; a second rotation of the same file at once is refused.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AdminError,
  adminClients,
  adminKek,
  adminUsers,
  KekError,
  openServices,
  type Services,
  verifyAuditLog,
} from '@clavis/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { openTotpSecret } from '../../src/users/totp_secret.js';

const actor = { type: 'admin' as const, id: 'os:tester@host', ip: null, userAgent: 'clavis-cli' };
const newKey = () => randomBytes(32).toString('base64url');

describe.each(dialects)('kek rotate (%s)', (dialect) => {
  let database: TestDatabase;
  const opened: Services[] = [];
  const open = async (options: { kek?: string; previous?: string; file?: string }) => {
    const s = await openServices({
      dbUrl: database.url,
      kek: options.kek,
      kekPrevious: options.previous,
      kekFile: options.file ?? join(database.dir, 'unused.kek'),
      writer: 'cli',
      poolSize: 2,
    });
    opened.push(s);
    return s;
  };
  const close = async (s: Services) => {
    opened.splice(opened.indexOf(s), 1);
    await s.close();
  };

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await database.drop();
  });

  /**
   * A client with a secret, a person with TOTP, and the signing keys — the access tokens' and the ID
   * tokens' RS256 ones — made under `s`'s KEK.
   */
  async function populate(s: Services) {
    await s.keys.refresh();
    await s.keys.currentIdTokenKey();
    const deps = {
      db: s.db,
      audit: s.audit,
      clock: s.clock,
      hasher: s.hasher,
      totpKey: s.totpKey,
      maxAccessTokenTtlSeconds: 3600,
      defaultAccessTokenTtlSeconds: 600,
    };
    const client = await adminClients.createClient(
      deps,
      { name: 'svc', kind: 'confidential', scopes: ['read'] },
      actor,
    );
    const user = await adminUsers.createUser(
      deps,
      { username: `ada${randomBytes(3).toString('hex')}`, totp: true },
      actor,
    );
    return {
      clientId: client.client.id,
      secret: client.secret as string,
      userId: user.user.id,
      totp: user.totpSecret as string,
    };
  }
  const sealedKeys = async (s: Services) =>
    Object.fromEntries(
      (await s.db.selectFrom('signing_keys').select(['kid', 'private_key']).execute()).map((r) => [
        r.kid,
        r.private_key,
      ]),
    );
  const totpOf = async (s: Services, userId: string) =>
    openTotpSecret(
      s.totpOpenKeys,
      userId,
      (
        await s.db
          .selectFrom('users')
          .select('totp_secret')
          .where('id', '=', userId)
          .executeTakeFirstOrThrow()
      ).totp_secret as string,
    );
  const secretValid = async (s: Services, clientId: string, secret: string) => {
    const rows = await s.db
      .selectFrom('client_secrets')
      .select('hash')
      .where('client_id', '=', clientId)
      .execute();
    return rows.some((r) => s.hasher.verify(secret, r.hash));
  };

  it('env: B with A as previous re-seals everything; B alone then opens it all, A alone is refused; a re-run does nothing', async () => {
    const A = newKey();
    const B = newKey();
    const first = await open({ kek: A });
    const made = await populate(first);
    const before = await sealedKeys(first);
    const jwks = first.keys.jwksJson();
    expect((JSON.parse(jwks) as { keys: Array<{ alg: string }> }).keys.map((k) => k.alg).sort()).toEqual([
      'EdDSA',
      'EdDSA',
      'RS256',
      'RS256',
    ]);
    const idTokenKid = (await first.keys.currentIdTokenKey()).kid;
    await close(first);

    // B configured, A previous: everything still works under A until the rotation.
    const pending = await open({ kek: B, previous: A });
    expect(pending.kekRotationPending).toBe(true);
    expect(await secretValid(pending, made.clientId, made.secret)).toBe(true);
    const rotated = await adminKek.rotateKek(pending, {}, actor);
    expect(rotated).toMatchObject({
      moved: true,
      generatedIn: undefined,
      resealedTotpSecrets: 1,
      unopenable: 0,
    });
    expect(rotated.resealedSigningKeys).toBe(Object.keys(before).length);
    expect(rotated.from).not.toBe(rotated.to);
    await close(pending);

    const after = await open({ kek: B });
    expect(after.kekRotationPending).toBe(false);
    const resealed = await sealedKeys(after);
    expect(Object.keys(resealed).sort()).toEqual(Object.keys(before).sort());
    for (const kid of Object.keys(before)) expect(resealed[kid]).not.toBe(before[kid]);
    await after.keys.refresh();
    expect(after.keys.jwksJson()).toBe(jwks);
    // The RS256 keys were re-sealed like the others: they still open, and still sign ID tokens.
    expect((await after.keys.currentIdTokenKey()).kid).toBe(idTokenKid);
    expect(await totpOf(after, made.userId)).toBe(made.totp);
    expect(await secretValid(after, made.clientId, made.secret)).toBe(true);
    const audit = await verifyAuditLog(after.db, after.auditKey);
    expect(audit.ok).toBe(true);
    const record = await after.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'kek.rotate')
      .execute();
    expect(record).toHaveLength(1);
    expect(JSON.parse(record[0]?.detail ?? '{}')).toMatchObject({
      from: rotated.from,
      to: rotated.to,
      moved: true,
    });
    // The detail names fingerprints only, never a key.
    expect(record[0]?.detail).not.toContain(A);
    expect(record[0]?.detail).not.toContain(B);
    await close(after);

    await expect(open({ kek: A })).rejects.toBeInstanceOf(KekError);

    const again = await open({ kek: B, previous: A });
    expect(await adminKek.rotateKek(again, {}, actor)).toMatchObject({
      moved: false,
      resealedSigningKeys: 0,
      resealedTotpSecrets: 0,
    });
    expect(await sealedKeys(again)).toEqual(resealed);
  });

  it('a server still on the old KEK seals after the rotation: the next run re-seals exactly that', async () => {
    const A = newKey();
    const B = newKey();
    const old = await open({ kek: A });
    await populate(old);
    const rotator = await open({ kek: B, previous: A });
    expect((await adminKek.rotateKek(rotator, {}, actor)).moved).toBe(true);
    await close(rotator);

    // The server opened before the rotation still holds A and seals a new TOTP secret with it.
    const late = await populate(old);
    const withBOnly = await open({ kek: B });
    await expect(totpOf(withBOnly, late.userId)).rejects.toThrow();
    await close(withBOnly);
    const withPrevious = await open({ kek: B, previous: A });
    expect(await totpOf(withPrevious, late.userId)).toBe(late.totp);
    expect(await adminKek.rotateKek(withPrevious, {}, actor)).toMatchObject({
      moved: false,
      resealedTotpSecrets: 1,
    });
    await close(withPrevious);
    const finally_ = await open({ kek: B });
    expect(await totpOf(finally_, late.userId)).toBe(late.totp);
    expect(await secretValid(finally_, late.clientId, late.secret)).toBe(true);
  });

  it('key file: the new key goes on top and the old one stays below; a held lock refuses; bad entries refused', async () => {
    const file = join(database.dir, 'clavis.kek');
    const s = await open({ file });
    const made = await populate(s);
    const oldKey = readFileSync(file, 'utf8').trim();

    // Without --generate, nothing to do: the database is under the file's only key.
    expect(await adminKek.rotateKek(s, {}, actor)).toMatchObject({ moved: false, generatedIn: undefined });
    expect(readFileSync(file, 'utf8').trim()).toBe(oldKey);

    writeFileSync(`${file}.lock`, '');
    const err = await adminKek.rotateKek(s, { generate: true }, actor).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AdminError);
    expect((err as AdminError).message).toMatch(/^another kek rotate holds .*clavis\.kek\.lock/);
    expect(readFileSync(file, 'utf8').trim()).toBe(oldKey);
    unlinkSync(`${file}.lock`);

    const rotated = await adminKek.rotateKek(s, { generate: true }, actor);
    expect(rotated).toMatchObject({ moved: true, generatedIn: file, resealedTotpSecrets: 1 });
    await close(s);
    const keys = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(oldKey);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const reopened = await open({ file });
    expect(reopened.kekRotationPending).toBe(false);
    expect(await totpOf(reopened, made.userId)).toBe(made.totp);
    await close(reopened);
    const current = await open({ kek: keys[0] as string });
    expect(await secretValid(current, made.clientId, made.secret)).toBe(true);
    await close(current);
    await expect(open({ kek: oldKey })).rejects.toBeInstanceOf(KekError);
    // --generate is for a key file only.
    const envServices = await open({ kek: keys[0] as string });
    await expect(adminKek.rotateKek(envServices, { generate: true }, actor)).rejects.toThrow(/key file only/);
    await expect(open({ kek: keys[0] as string, previous: 'not-a-key' })).rejects.toThrow(
      /^CLAVIS_KEK_PREVIOUS: entry 1 is not 32 bytes/,
    );
  });
});
