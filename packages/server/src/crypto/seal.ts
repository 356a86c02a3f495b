/** AES-256-GCM sealing of small blobs at rest (private signing keys), bound to a context string. */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export function seal(key: Buffer, plaintext: Buffer, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
}

export function unseal(key: Buffer, sealed: string, context: string): Buffer {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('unknown sealed format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
}

/** Sealing with one key, opening with any of several (the current key first, then older ones). */
export interface SealingKeys {
  seal: Buffer;
  open: readonly Buffer[];
}

/** Opens `sealed` with the first of `keys` that opens it, and says which (its index). */
export function unsealWithAny(
  keys: readonly Buffer[],
  sealed: string,
  context: string,
): { plaintext: Buffer; index: number } {
  let failure: unknown = new Error('no key to open with');
  for (const [index, key] of keys.entries()) {
    try {
      return { plaintext: unseal(key, sealed, context), index };
    } catch (err) {
      failure = err;
    }
  }
  throw failure;
}
