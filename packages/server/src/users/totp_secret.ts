/**
 * TOTP secrets at rest: sealed with AES-256-GCM under a KEK-derived key and bound to the user id, so a
 * copy of the database alone cannot produce second-factor codes. Values written before sealing (plain
 * base32) are still read as they are.
 */
import { seal, unseal } from '../crypto/seal.js';

const context = (userId: string) => `totp:${userId}`;

export function sealTotpSecret(key: Buffer, userId: string, base32: string): string {
  return seal(key, Buffer.from(base32, 'utf8'), context(userId));
}

export function openTotpSecret(key: Buffer, userId: string, stored: string): string {
  return stored.startsWith('v1.') ? unseal(key, stored, context(userId)).toString('utf8') : stored;
}
