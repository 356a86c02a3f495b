/**
 * Checks a JWKS of public signing keys, as registered for a client (`private_key_jwt`) or a workload
 * token issuer (inline, or as fetched): an object with a `keys` array of 1 to 10 public RSA, EC or OKP
 * keys. Symmetric keys, private parts, RSA keys under 2048 bits and algorithms the verifier does not
 * accept are refused; keys that are not for signatures are dropped, and at least one must remain.
 */
import { importJWK, type JSONWebKeySet, type JWK } from 'jose';

/** A JWKS refused; the message says why, and never quotes more than 20 characters of its content. */
export class JwksError extends Error {
  override name = 'JwksError';
}

const MAX_JWKS_KEYS = 10;
const MIN_RSA_BITS = 2048;
const PRIVATE_PARTS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function refuse(message: string): never {
  throw new JwksError(message);
}

/** The keys of `jwks` usable for signatures with one of `algorithms`; throws {@link JwksError}. */
export async function checkPublicSigningJwks(
  jwks: unknown,
  algorithms: readonly string[],
): Promise<JSONWebKeySet> {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    refuse('the JWKS must be a JSON object with a "keys" array');
  }
  const keys = (jwks as { keys: unknown[] }).keys;
  if (keys.length === 0 || keys.length > MAX_JWKS_KEYS) {
    refuse(`the JWKS must hold between 1 and ${MAX_JWKS_KEYS} keys`);
  }
  const cleaned: JWK[] = [];
  for (const entry of keys) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      refuse('every JWKS entry must be a JSON object');
    }
    const jwk = entry as JWK;
    if (!['RSA', 'EC', 'OKP'].includes(String(jwk.kty)))
      refuse('only public RSA, EC or OKP keys are accepted');
    for (const part of PRIVATE_PARTS) {
      if (part in jwk) refuse('the JWKS contains private key material; register only public keys');
    }
    // A key without `alg` is checked for the algorithm its type implies (P-521 → ES512).
    const alg = jwk.alg ?? defaultAlg(jwk);
    if (!algorithms.includes(alg)) refuse(`key algorithm ${String(alg).slice(0, 20)} is not allowed`);
    if (jwk.kty === 'RSA' && Buffer.from(String(jwk.n ?? ''), 'base64url').length * 8 < MIN_RSA_BITS) {
      refuse(`RSA keys must be at least ${MIN_RSA_BITS} bits`);
    }
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    try {
      await importJWK({ ...jwk, alg });
    } catch {
      refuse('a JWKS entry is not a valid public key');
    }
    cleaned.push(jwk);
  }
  if (cleaned.length === 0) refuse('the JWKS holds no signing key');
  return { keys: cleaned };
}

function defaultAlg(jwk: JWK): string {
  if (jwk.kty === 'OKP') return 'EdDSA';
  if (jwk.kty === 'EC') return jwk.crv === 'P-384' ? 'ES384' : jwk.crv === 'P-521' ? 'ES512' : 'ES256';
  return 'RS256';
}
