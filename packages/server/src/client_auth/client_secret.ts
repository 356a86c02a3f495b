/** client_secret_basic and client_secret_post: compare against every live secret, in constant time. */
import type { SecretHasher } from '../crypto/secrets.js';
import type { ClientSecretRow } from '../storage/schema.js';

// A stored hash of the right length for unknown clients, so an unknown client costs the same as a known one.
const DUMMY_HASH = Buffer.alloc(32).toString('base64url');

export function secretMatches(
  hasher: SecretHasher,
  secret: string,
  secrets: readonly ClientSecretRow[],
): boolean {
  let ok = false;
  // Check every secret (no early exit) so timing does not tell how many there are or which matched.
  for (const row of secrets.length ? secrets : [{ hash: DUMMY_HASH }]) {
    ok = hasher.verify(secret, row.hash) || ok;
  }
  return ok && secrets.length > 0;
}
