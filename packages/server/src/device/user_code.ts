/**
 * User codes (RFC 8628 §6.1): 8 characters from 20 consonants — no vowels, so no words; no lookalikes —
 * shown as `XXXX-XXXX` (~34.5 bits). People may type them in lower case, with or without the dash or
 * spaces; anything else is rejected, never silently stripped.
 */
import { randomPooledBytes } from '../crypto/secrets.js';

const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const LENGTH = 8;

/** A fresh user code, normalised (no dash). Uniform: bytes ≥ 240 (= 12 × 20) are redrawn. */
export function generateUserCode(): string {
  let out = '';
  while (out.length < LENGTH) {
    for (const byte of randomPooledBytes(16)) {
      if (byte < 240 && out.length < LENGTH) out += USER_CODE_ALPHABET[byte % 20];
    }
  }
  return out;
}

/** `BCDFGHJK` → `BCDF-GHJK`. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * What a person typed, normalised to the stored form; null when it cannot be a user code (wrong length,
 * or a character outside the alphabet after case folding and removing dashes and spaces).
 */
export function normaliseUserCode(input: string): string | null {
  if (input.length > 32) return null;
  const folded = input.toUpperCase().replace(/[\s-]/g, '');
  if (folded.length !== LENGTH) return null;
  for (const ch of folded) if (!USER_CODE_ALPHABET.includes(ch)) return null;
  return folded;
}
