/**
 * Secret hashes under versions of the hashing key: the stored form (`vN.` prefix, none for version 0),
 * verification under the version a stored value names, refusal of malformed, oversized and retired
 * versions, and the lookups after a miss (only while older versions are live).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashVersionOf, hashVersionPrefix } from '../../src/crypto/hashing_keys.js';
import { SecretHasher } from '../../src/crypto/secrets.js';

const k = (version: number) => ({ version, key: randomBytes(32) });

describe('secret hashes under hashing-key versions', () => {
  const v0 = k(0);
  const v1 = k(1);
  const v2 = k(2);
  const before = new SecretHasher(v0.key);
  const after = new SecretHasher(v2, [v1, v0]);
  const secret = `clvs_${randomBytes(32).toString('base64url')}`;

  it('stores version 0 bare (as before versions existed) and later versions behind vN.', () => {
    expect(before.hash(secret)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(after.hash(secret)).toMatch(/^v2\.[A-Za-z0-9_-]{43}$/);
    expect(new SecretHasher(v0).hash(secret)).toBe(before.hash(secret));
    expect(hashVersionPrefix(0)).toBe('');
    expect(hashVersionPrefix(12)).toBe('v12.');
  });

  it('verifies a stored hash under the version it names; looks up older versions newest first', () => {
    const old = before.hash(secret);
    expect(after.verify(secret, old)).toBe(true);
    expect(after.verify(secret, after.hash(secret))).toBe(true);
    expect(after.isCurrent(old)).toBe(false);
    expect(after.isCurrent(after.hash(secret))).toBe(true);
    expect(after.olderHashes(secret)).toEqual([new SecretHasher(v1).hash(secret), old]);
    expect(after.hasOlderVersions).toBe(true);
    expect(before.hasOlderVersions).toBe(false);
    expect(before.olderHashes(secret)).toEqual([]);
    expect(after.verify(`${secret}x`, old)).toBe(false);
  });

  it('matches nothing under a retired version, or a malformed or oversized stored value', () => {
    const retired = new SecretHasher(v2, [v1]);
    expect(retired.verify(secret, before.hash(secret))).toBe(false);
    const digest = after.hash(secret).slice(3);
    for (const stored of [
      `v3.${digest}`,
      `V2.${digest}`,
      `v02.${digest}`,
      `v.${digest}`,
      `vx.${digest}`,
      `v2.${digest}A`,
      `v2.${digest.slice(1)}`,
      `v99999999999.${digest}`,
      '',
      'v2.',
      '.'.repeat(5000),
    ]) {
      expect(after.verify(secret, stored), stored).toBe(false);
    }
    expect(hashVersionOf('v1.x')).toBe(1);
    expect(hashVersionOf('abc')).toBe(0);
    expect(hashVersionOf('v0.x')).toBeUndefined();
    expect(hashVersionOf('w1.x')).toBeUndefined();
    expect(hashVersionOf('v-1.x')).toBeUndefined();
  });

  it('find: one lookup under the current version on a hit; one more per older version on a miss', async () => {
    const stored = new Map([[before.hash(secret), 'row']]);
    const asked: string[] = [];
    const lookup = async (hash: string) => {
      asked.push(hash);
      return stored.get(hash);
    };
    expect(await after.find(secret, lookup)).toEqual({
      row: 'row',
      hash: after.hash(secret),
      staleHash: before.hash(secret),
    });
    expect(asked).toHaveLength(3);
    stored.set(after.hash(secret), 'row');
    asked.length = 0;
    expect((await after.find(secret, lookup))?.staleHash).toBeUndefined();
    expect(asked).toHaveLength(1);
    asked.length = 0;
    expect(await after.find('unknown', lookup)).toBeUndefined();
    expect(asked).toHaveLength(3);
    asked.length = 0;
    expect(await before.find('unknown', lookup)).toBeUndefined();
    expect(asked).toHaveLength(1);
  });
});
