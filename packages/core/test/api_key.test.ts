import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  API_KEY_PATTERN,
  apiKeyChecksum,
  BASE62_ALPHABET,
  checkApiKey,
  crc32,
  generateApiKey,
  parseApiKey,
} from '../src/api_key.js';

/** The checksum written independently of the code under test: zlib's CRC32, base62 by BigInt. */
function referenceChecksum(body: string): string {
  let n = BigInt(zlibCrc32(Buffer.from(body, 'ascii')));
  let out = '';
  while (n > 0n) {
    out = BASE62_ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(6, '0');
}

describe('API key format (DESIGN.md: clv_ + 30 base62 + 6 base62 CRC32)', () => {
  it('generates keys of the pinned shape whose checksum zlib agrees with', () => {
    for (let i = 0; i < 500; i++) {
      const key = generateApiKey();
      expect(key).toMatch(/^clv_[0-9A-Za-z]{36}$/);
      const body = key.slice(4, 34);
      expect(key.slice(34)).toBe(referenceChecksum(body));
      expect(checkApiKey(key)).toBe('valid');
      expect(parseApiKey(key)).toEqual({ body, checksum: key.slice(34) });
    }
  });

  it('computes CRC32 exactly as zlib does, including the all-zero and padded cases', () => {
    for (const text of ['', 'a', '123456789', 'A'.repeat(30), '000000000000000000000000000000']) {
      expect(crc32(text)).toBe(zlibCrc32(Buffer.from(text)));
    }
    expect(crc32('123456789')).toBe(0xcbf43926); // the CRC-32/ISO-HDLC check value
    for (const body of ['0'.repeat(30), 'z'.repeat(30), `${'Zz09'.repeat(7)}ab`]) {
      expect(apiKeyChecksum(body)).toBe(referenceChecksum(body));
    }
  });

  it('left-pads small checksums with 0', () => {
    // Search a body whose CRC is below 62^5, so the written number has fewer than six digits.
    let body = '';
    for (let i = 0; ; i++) {
      body = i.toString().padStart(30, '0');
      if (zlibCrc32(Buffer.from(body)) < 62 ** 5) break;
    }
    const sum = apiKeyChecksum(body);
    expect(sum).toHaveLength(6);
    expect(sum.startsWith('0')).toBe(true);
    expect(sum).toBe(referenceChecksum(body));
  });

  it('tells a changed character from a real key', () => {
    const key = generateApiKey();
    let caught = 0;
    for (let pos = 4; pos < key.length; pos++) {
      const replacement = key[pos] === 'A' ? 'B' : 'A';
      const changed = key.slice(0, pos) + replacement + key.slice(pos + 1);
      if (checkApiKey(changed) === 'bad_checksum') caught++;
    }
    expect(caught).toBe(key.length - 4);
  });

  it('rejects malformed text without computing anything', () => {
    const key = generateApiKey();
    for (const bad of [
      '',
      'clv_',
      key.slice(0, -1),
      `${key}0`,
      key.replace('clv_', 'CLV_'),
      key.replace('clv_', 'clvs_').slice(0, 40),
      `${key.slice(0, 10)}-${key.slice(11)}`,
      `${key.slice(0, 10)}é${key.slice(11)}`,
      ` ${key.slice(1)}`,
      'x'.repeat(100_000),
    ]) {
      expect(checkApiKey(bad)).toBe('malformed');
      expect(parseApiKey(bad)).toBeNull();
    }
  });

  it('uses every base62 character, roughly uniformly', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      for (const ch of generateApiKey().slice(4, 34)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    expect(counts.size).toBe(62);
    const expected = (2000 * 30) / 62;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.25);
  });

  it('finds keys in text for a scanner, but not inside longer tokens', () => {
    const key = generateApiKey();
    const text = `export TOKEN=${key}\nnot: x${key}\nnor: ${key}Z\n"${key}"`;
    const found = [...text.matchAll(API_KEY_PATTERN)].map((m) => m[0]);
    expect(found).toEqual([key, key]);
  });
});
