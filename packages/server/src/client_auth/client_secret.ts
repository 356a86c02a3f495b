/**
 * client_secret_basic and client_secret_post: compare against every live secret, in constant time, each
 * under the hashing-key version its stored hash names. Says which secret matched (its hash may be under
 * an older version, to be re-keyed).
 */
import type { SecretHasher } from '../crypto/secrets.js';
import type { ClientSecretRow } from '../storage/schema.js';

// A stored hash of the right length for unknown clients, so an unknown client costs the same as a known one.
const DUMMY_HASH = Buffer.alloc(32).toString('base64url');

export function matchingSecret(
  hasher: SecretHasher,
  secret: string,
  secrets: readonly ClientSecretRow[],
): ClientSecretRow | undefined {
  let match: ClientSecretRow | undefined;
  // Check every secret (no early exit) so timing does not tell how many there are or which matched.
  for (const row of secrets.length ? secrets : [{ hash: DUMMY_HASH }]) {
    if (hasher.verify(secret, row.hash) && secrets.length > 0) match = row as ClientSecretRow;
  }
  return match;
}
