/**
 * An identity provider's client secret at rest: sealed with AES-256-GCM under a KEK-derived key
 * (`idp-sealing`) and bound to the provider id, so a copy of the database alone cannot act as Clavis at
 * the provider, and a sealed value cannot be moved to another provider's row.
 */
import { seal, unsealWithAny } from '../crypto/seal.js';

const context = (idpId: string) => `idp-client-secret:${idpId}`;

export function sealIdpSecret(key: Buffer, idpId: string, secret: string): string {
  return seal(key, Buffer.from(secret, 'utf8'), context(idpId));
}

/** Opens a sealed client secret with the first of `keys` (the current KEK's first) that opens it. */
export function openIdpSecret(keys: readonly Buffer[], idpId: string, stored: string): string {
  return unsealWithAny(keys, stored, context(idpId)).plaintext.toString('utf8');
}

/** Re-seals a secret opened with one of `open` under `sealKey`; undefined if already under it. */
export function resealIdpSecret(
  sealKey: Buffer,
  open: readonly Buffer[],
  idpId: string,
  stored: string,
): string | undefined {
  const { plaintext, index } = unsealWithAny([sealKey, ...open], stored, context(idpId));
  return index === 0 ? undefined : seal(sealKey, plaintext, context(idpId));
}
