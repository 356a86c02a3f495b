/**
 * The Clavis API-key format: `clv_` + 30 random base62 characters + 6 base62 characters of the CRC32
 * (IEEE, as zlib computes it) of those 30, most significant digit first, left-padded with `0`.
 *
 * The checksum lets a secret scanner tell a real key from noise offline, and lets the server reject a
 * mistyped or made-up key before it touches storage. It is not a secret and proves nothing about
 * validity: only the server knows whether a well-formed key exists.
 *
 * @example
 * ```ts
 * const key = generateApiKey();       // 'clv_7dK…'
 * checkApiKey(key);                   // 'valid'
 * checkApiKey(key.slice(0, -1) + 'x') // 'bad_checksum' (almost always)
 * ```
 */

export const API_KEY_PREFIX = 'clv_';
export const API_KEY_BODY_LENGTH = 30;
export const API_KEY_CHECKSUM_LENGTH = 6;
export const API_KEY_LENGTH = API_KEY_PREFIX.length + API_KEY_BODY_LENGTH + API_KEY_CHECKSUM_LENGTH;

/** The base62 alphabet in its pinned order: digits, then upper case, then lower case. */
export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Finds candidate keys in text (a scanner then checks each with {@link checkApiKey}). Global: use with
 * `matchAll`, or reset `lastIndex`.
 */
export const API_KEY_PATTERN = /(?<![0-9A-Za-z_])clv_[0-9A-Za-z]{36}(?![0-9A-Za-z_])/g;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32/ISO-HDLC (zlib's `crc32`) of the UTF-8 bytes of an ASCII string. */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) throw new RangeError('crc32 here takes ASCII text only');
    crc = (CRC_TABLE[(crc ^ code) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The 6-character checksum of a 30-character key body. */
export function apiKeyChecksum(body: string): string {
  let value = crc32(body);
  let out = '';
  for (let i = 0; i < API_KEY_CHECKSUM_LENGTH; i++) {
    out = BASE62_ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** Fills `bytes` with cryptographically strong random values (Web Crypto: Node, Deno, browsers). */
type RandomSource = (bytes: Uint8Array) => void;
const webRandom: RandomSource = (bytes) => {
  globalThis.crypto.getRandomValues(bytes);
};

/**
 * A new key with 30 uniformly random base62 characters (≈178.6 bits). Bytes ≥ 248 are discarded so
 * that `byte % 62` has no bias.
 */
export function generateApiKey(random: RandomSource = webRandom): string {
  let body = '';
  const buf = new Uint8Array(48);
  while (body.length < API_KEY_BODY_LENGTH) {
    random(buf);
    for (const byte of buf) {
      if (byte >= 248) continue;
      body += BASE62_ALPHABET[byte % 62];
      if (body.length === API_KEY_BODY_LENGTH) break;
    }
  }
  return `${API_KEY_PREFIX}${body}${apiKeyChecksum(body)}`;
}

export type ApiKeyCheck = 'valid' | 'malformed' | 'bad_checksum';

const SHAPE = /^clv_[0-9A-Za-z]{36}$/;

/**
 * Whether text is a well-formed key with a matching checksum. Offline and cheap; says nothing about
 * whether the server knows the key.
 */
export function checkApiKey(text: string): ApiKeyCheck {
  if (text.length !== API_KEY_LENGTH || !SHAPE.test(text)) return 'malformed';
  const body = text.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + API_KEY_BODY_LENGTH);
  const checksum = text.slice(API_KEY_PREFIX.length + API_KEY_BODY_LENGTH);
  return apiKeyChecksum(body) === checksum ? 'valid' : 'bad_checksum';
}

/** The body and checksum of a valid key, or null. */
export function parseApiKey(text: string): { body: string; checksum: string } | null {
  if (checkApiKey(text) !== 'valid') return null;
  return {
    body: text.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + API_KEY_BODY_LENGTH),
    checksum: text.slice(API_KEY_PREFIX.length + API_KEY_BODY_LENGTH),
  };
}
