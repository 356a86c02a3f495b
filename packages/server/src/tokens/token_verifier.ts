/**
 * Verifies access tokens we issued, remembering the ones whose signature already verified: a resource
 * server introspects the same token on every call it receives, and an Ed25519 verification costs more
 * than the rest of the request. Only the signature check is remembered — whether its key is still
 * published (an operator may withdraw it at once), expiry, revocation and who may see the token are
 * decided on every call.
 */

import { type AccessTokenClaims, verifyOwnAccessToken } from './access_token.js';
import type { KeyStore } from './signing_keys.js';

const DEFAULT_MAX_ENTRIES = 10_000;

export class AccessTokenVerifier {
  readonly #keys: KeyStore;
  readonly #issuer: string;
  readonly #maxEntries: number;
  readonly #verified = new Map<string, { claims: AccessTokenClaims; kid: string }>();

  constructor(keys: KeyStore, issuer: string, maxEntries = DEFAULT_MAX_ENTRIES) {
    this.#keys = keys;
    this.#issuer = issuer;
    this.#maxEntries = maxEntries;
  }

  /**
   * The claims of `token` if we signed it with a key still published, else null. Expiry is the
   * caller's decision (revocation accepts expired tokens).
   */
  verify(token: string, nowSeconds: number): AccessTokenClaims | null {
    const known = this.#verified.get(token);
    if (known) {
      if (known.claims.exp > nowSeconds && this.#keys.byKid(known.kid)) return known.claims;
      this.#verified.delete(token);
    }
    const verified = verifyOwnAccessToken(this.#keys, this.#issuer, token);
    if (!verified) return null;
    const { claims, kid } = verified;
    if (claims.exp > nowSeconds) {
      if (this.#verified.size >= this.#maxEntries) {
        const oldest = this.#verified.keys().next().value;
        if (oldest !== undefined) this.#verified.delete(oldest);
      }
      this.#verified.set(token, { claims, kid });
    }
    return claims;
  }
}
