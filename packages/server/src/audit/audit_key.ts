/**
 * The audit signing key: an Ed25519 key pair that only `serve` holds, in a file of its own (0600, created
 * on first start), apart from the KEK. It signs the seals `serve` writes; `audit verify` checks them with
 * the public half, taken from the anchor file, never from the database.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';

export class AuditKeyError extends Error {
  override name = 'AuditKeyError';
}

export interface AuditSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as the `x` of an Ed25519 JWK (base64url of its 32 bytes), as the anchor file holds it. */
  publicX: string;
  file: string;
  created: boolean;
}

/** The public key written `x` in the anchor file. */
export function auditPublicKeyFromX(x: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
}

/** Loads the key from `file`, creating the file (0600) with a fresh key pair when it does not exist. */
export function loadAuditSigningKey(file: string): AuditSigningKey {
  let created = false;
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    try {
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
      created = true;
    } catch (err) {
      // Another process created it first: use theirs.
      if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
    }
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new AuditKeyError(`audit key file ${file} must not be readable by others (chmod 600)`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new AuditKeyError(`audit key file ${file} does not hold a private key`, { cause });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AuditKeyError(`audit key file ${file} must hold an Ed25519 private key`);
  }
  const publicKey = createPublicKey(privateKey);
  const { x } = publicKey.export({ format: 'jwk' });
  if (!x) throw new AuditKeyError(`audit key file ${file}: no public key`);
  return { privateKey, publicKey, publicX: x, file, created };
}
