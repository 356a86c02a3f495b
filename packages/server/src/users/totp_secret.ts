/**
 * TOTP secrets at rest: sealed with AES-256-GCM under a KEK-derived key and bound to the user id, so a
 * copy of the database alone cannot produce second-factor codes — and write access to it alone cannot
 * plant a known secret: a value that is not sealed (plain base32) is refused, never used.
 */
import { seal, unsealWithAny } from '../crypto/seal.js';

const context = (userId: string) => `totp:${userId}`;

export function sealTotpSecret(key: Buffer, userId: string, base32: string): string {
  return seal(key, Buffer.from(base32, 'utf8'), context(userId));
}

/** Opens a sealed TOTP secret with the first of `keys` (current KEK's first) that opens it. */
export function openTotpSecret(keys: Buffer | readonly Buffer[], userId: string, stored: string): string {
  if (!stored.startsWith('v1.')) throw new Error(`the TOTP secret of ${userId} is not sealed: refused`);
  return unsealWithAny(Buffer.isBuffer(keys) ? [keys] : keys, stored, context(userId)).plaintext.toString(
    'utf8',
  );
}

/** Re-seals a TOTP secret opened with one of `open` under `sealKey`; undefined if already under it. */
export function resealTotpSecret(
  sealKey: Buffer,
  open: readonly Buffer[],
  userId: string,
  stored: string,
): string | undefined {
  if (!stored.startsWith('v1.')) throw new Error(`the TOTP secret of ${userId} is not sealed: refused`);
  const { plaintext, index } = unsealWithAny([sealKey, ...open], stored, context(userId));
  return index === 0 ? undefined : seal(sealKey, plaintext, context(userId));
}
