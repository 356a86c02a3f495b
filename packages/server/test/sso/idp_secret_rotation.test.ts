/**
 * An identity provider's client secret at rest: sealed (never stored as given), bound to its provider
 * (a sealed value moved to another provider's row does not open), and re-sealed by `kek rotate` so that
 * the new KEK alone opens it.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { adminIdps, adminKek, openServices, type Services } from '@clavis/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../../test/support/dialects.js';
import { openIdpSecret } from '../../src/idps/idp_secret.js';

const newKey = () => randomBytes(32).toString('base64url');
const SECRET = 'the-upstream-client-secret';
const ADMIN = { type: 'admin' as const, id: 'ops' };

describe.each(dialects)('identity-provider secrets at rest (%s)', (dialect) => {
  let database: TestDatabase;
  const opened: Services[] = [];
  const open = async (kek: string, previous?: string) => {
    const s = await openServices({
      dbUrl: database.url,
      kek,
      kekPrevious: previous,
      kekFile: join(database.dir, 'unused.kek'),
      writer: 'cli',
      poolSize: 2,
    });
    opened.push(s);
    return s;
  };
  beforeEach(async () => {
    database = await createTestDatabase(dialect);
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await database.drop();
  });
  const deps = (s: Services) => ({ db: s.db, audit: s.audit, clock: s.clock, idpSealKey: s.idpKeys.seal });
  const stored = async (s: Services) =>
    s.db.selectFrom('identity_providers').select(['id', 'client_secret']).orderBy('name').execute();

  it('sealed, bound to its provider, and re-sealed by kek rotate', async () => {
    const A = newKey();
    const B = newKey();
    const first = await open(A);
    await adminIdps.createIdp(
      deps(first),
      { name: 'One', issuer: 'https://one.example', clientId: 'c', clientSecret: SECRET },
      ADMIN,
    );
    await adminIdps.createIdp(
      deps(first),
      { name: 'Two', issuer: 'https://two.example', clientId: 'c', clientSecret: 'other' },
      ADMIN,
    );
    const [one, two] = await stored(first);
    if (!one || !two) throw new Error('not stored');
    expect(one.client_secret).not.toContain(SECRET);
    expect(openIdpSecret(first.idpKeys.open, one.id, one.client_secret)).toBe(SECRET);
    // Moved to the other provider's row, it does not open.
    expect(() => openIdpSecret(first.idpKeys.open, two.id, one.client_secret)).toThrow();

    const pending = await open(B, A);
    const rotated = await adminKek.rotateKek(pending, {}, ADMIN);
    expect(rotated).toMatchObject({ moved: true, resealedIdpSecrets: 2, unopenable: 0 });
    const onlyB = await open(B);
    const [after] = await stored(onlyB);
    expect(openIdpSecret(onlyB.idpKeys.open, after?.id as string, after?.client_secret as string)).toBe(
      SECRET,
    );
    expect((await adminKek.rotateKek(onlyB, {}, ADMIN)).resealedIdpSecrets).toBe(0);
  });
});
