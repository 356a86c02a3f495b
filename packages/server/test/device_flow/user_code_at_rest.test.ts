/**
 * User codes at rest: a keyed permutation of the normalised code — the same code always stores the same
 * way (lookups and the unique index work), the pages read it back, and without the key nothing reads.
 * One cipher serves every code, so a code's stored form must not depend on the codes before it.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateUserCode } from '../../src/device/user_code.js';
import { UserCodesAtRest } from '../../src/device/user_code_at_rest.js';

describe('UserCodesAtRest', () => {
  const key = randomBytes(32);

  it('stores each code the same way whatever came before, and reads it back', () => {
    const codes = Array.from({ length: 2000 }, () => generateUserCode());
    const first = new UserCodesAtRest(key);
    const stored = codes.map((code) => first.stored(code));
    // Interleaved with reads, and by a second instance on the same key: the same stored forms.
    const second = new UserCodesAtRest(key);
    for (const [i, code] of codes.entries()) {
      expect(second.code(stored[i] as string)).toBe(code);
      expect(second.stored(code)).toBe(stored[i]);
      expect(first.code(first.stored(code))).toBe(code);
    }
    expect(new Set(stored).size).toBe(new Set(codes).size);
    for (const s of stored) expect(s).toMatch(/^uc1\.[A-Za-z0-9_-]{22}$/);
  });

  it('another key reads nothing; a value stored the old way or mangled reads as no code', () => {
    const codes = new UserCodesAtRest(key);
    const other = new UserCodesAtRest(randomBytes(32));
    const code = generateUserCode();
    const stored = codes.stored(code);
    expect(other.code(stored)).toBeUndefined();
    expect(codes.code(code)).toBeUndefined();
    expect(codes.code(`retired.dev_x`)).toBeUndefined();
    expect(codes.code('uc1.')).toBeUndefined();
    expect(codes.code(`${stored}AA`)).toBeUndefined();
    expect(() => codes.stored('X'.repeat(16))).toThrow(RangeError);
  });
});
