/**
 * Verifying a JWS whose header names no key (`kid` is optional, RFC 7515 §4.1.4) against a key set that
 * holds several keys it could be: jose then reports them all (`JWKSMultipleMatchingKeys`) instead of
 * choosing. Each is tried in turn; only a signature that fails under every one is refused. The keys come
 * from the set the caller trusts (a client's registration, a federation's issuer), never from the token.
 */
import { type CryptoKey, errors } from 'jose';

/** At most this many keys are tried for one token (a registered JWKS holds up to 10). */
export const MAX_CANDIDATE_KEYS = 10;

/**
 * Runs `verify` with `keys` (a jose key-set resolver); if the set has several keys that fit, runs it with
 * each of them until one verifies the signature. Any failure other than a bad signature (an expired
 * token under the right key, say) is thrown as it is.
 */
export async function verifyWithCandidateKeys<K, T>(
  keys: K,
  verify: (key: K | CryptoKey) => Promise<T>,
): Promise<T> {
  try {
    return await verify(keys);
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    let tried = 0;
    for await (const key of err) {
      if (++tried > MAX_CANDIDATE_KEYS) break;
      try {
        return await verify(key);
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}
