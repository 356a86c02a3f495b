/**
 * TOTP secrets at rest: sealed with AES-256-GCM under a KEK-derived key and bound to the user id, so a
 * copy of the database alone cannot produce second-factor codes — and write access to it alone cannot
 * plant a known secret: a value that is not sealed (plain base32) is refused, never used.
 */
import { seal, unseal } from '../crypto/seal.js';

const context = (userId: string) => `totp:${userId}`;

export function sealTotpSecret(key: Buffer, userId: string, base32: string): string {
  return seal(key, Buffer.from(base32, 'utf8'), context(userId));
}

export function openTotpSecret(key: Buffer, userId: string, stored: string): string {
  if (!stored.startsWith('v1.')) throw new Error(`the TOTP secret of ${userId} is not sealed: refused`);
  return unseal(key, stored, context(userId)).toString('utf8');
}
