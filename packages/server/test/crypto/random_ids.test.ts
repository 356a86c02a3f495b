import { describe, expect, it } from 'vitest';
import { randomId, randomPooledBytes, randomToken, timeOrderedId } from '../../src/crypto/secrets.js';
import { generateUserCode } from '../../src/device/user_code.js';

describe('random identifiers from the pooled CSPRNG', () => {
  it('never hands out the same bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    // 4 KiB pool: 3,000 draws of 16 bytes cross it about a dozen times.
    for (let i = 0; i < 1000; i++) {
      seen.add(randomToken(16));
      seen.add(randomId('x_', 16));
      seen.add(randomPooledBytes(16).toString('hex'));
    }
    expect(seen.size).toBe(3000);
  });

  it('randomPooledBytes returns a copy, not a view of the pool', () => {
    const a = randomPooledBytes(32);
    const copy = Buffer.from(a);
    for (let i = 0; i < 300; i++) randomPooledBytes(32);
    expect(a.equals(copy)).toBe(true);
  });

  it('refuses a draw larger than the pool', () => {
    expect(() => randomPooledBytes(4097)).toThrow(RangeError);
  });

  it('time-ordered ids sort by creation time and keep 96 random bits', () => {
    const ids = [1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000, 253_402_300_799_000].map((t) =>
      timeOrderedId('dev_', t),
    );
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^dev_[0-9a-f]{12}[A-Za-z0-9_-]{16}$/);
    // Same millisecond: still distinct.
    const same = new Set(Array.from({ length: 500 }, () => timeOrderedId('dev_', 1_700_000_000_000)));
    expect(same.size).toBe(500);
  });

  it('user codes stay uniform over the alphabet with pooled bytes', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      for (const ch of generateUserCode()) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    expect(counts.size).toBe(20);
    // 40,000 characters over 20 letters: 2,000 each; a biased draw would be far off.
    for (const n of counts.values()) expect(Math.abs(n - 2000)).toBeLessThan(250);
  });
});
