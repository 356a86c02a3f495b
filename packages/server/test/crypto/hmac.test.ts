import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HmacSha256 } from '../../src/crypto/hmac.js';

describe('HmacSha256 (one-shot hashing over precomputed pads)', () => {
  it('gives exactly what createHmac gives, for keys shorter than, equal to and longer than a block', () => {
    for (const keyLength of [0, 1, 16, 32, 63, 64, 65, 128, 300]) {
      const key = randomBytes(keyLength);
      const mac = new HmacSha256(key);
      for (const message of [
        '',
        'a',
        'clv_0123456789abcdefghijABCDEFGHIJ012345',
        'é€😀\u0000',
        'x'.repeat(10_000),
      ]) {
        expect(mac.digest(message).toString('hex')).toBe(
          createHmac('sha256', key).update(message, 'utf8').digest('hex'),
        );
        const bytes = Buffer.from(message);
        expect(mac.digest(bytes).equals(createHmac('sha256', key).update(bytes).digest())).toBe(true);
      }
    }
  });

  it('matches the RFC 4231 test case 2 vector', () => {
    const mac = new HmacSha256(Buffer.from('Jefe'));
    expect(mac.digest('what do ya want for nothing?').toString('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('keeps no state between messages (interleaved calls agree with fresh ones)', () => {
    const key = randomBytes(32);
    const mac = new HmacSha256(key);
    const a = mac.digest('first');
    mac.digest('y'.repeat(5000));
    expect(mac.digest('first').equals(a)).toBe(true);
  });
});
