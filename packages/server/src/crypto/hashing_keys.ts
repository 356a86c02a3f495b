/**
 * Versions of the secret-hashing key: how a KEK rotation moves the hashes of secrets (API keys, client
 * secrets, refresh tokens, device codes, recovery codes) to a new key without re-issuing a credential.
 *
 * The server keeps no secret it issued, only its keyed hash (HMAC-SHA-256, crypto/secrets.ts), so a
 * hash can only be computed again when the secret is presented. Hence:
 *
 * - Each `kek rotate` that moves the database to another KEK generates a new random hashing key, the
 *   new current version (1, 2, …; version 0 is the key the database started with, derived from its
 *   first KEK). Every version still live is kept in the wrapped-keys setting (crypto/stable_keys.ts),
 *   sealed under the current KEK and re-wrapped by every rotation in its transaction: a handful of 32-byte
 *   keys need no table of their own, and they then move with the KEK atomically, like the other keys
 *   wrapped there.
 * - A stored hash names its version in the value itself: `v3.` + base64url digest; a hash under version
 *   0 has no prefix (base64url has no `.`), so the rows of a database that was never rotated stay as
 *   they are and the schema does not change. A lookup by equality with the current version's value
 *   finds only rows under the current version, and `verify` reads the version from the stored value.
 * - A presented secret is looked up under the current version first — the same single lookup (and the
 *   same cache key) as before versions existed. Only on a miss is it looked up under each older live
 *   version, newest first: so an unknown credential costs one extra lookup per older version, and only
 *   while older versions are live. A hit under an older version is re-keyed to the current one (the
 *   stored value replaced, compare-and-set on the old value) with the use it is presented for: in the
 *   same transaction where that use has one (refresh, device code, recovery code); API keys and client
 *   secrets, whose verification is a read, re-key in one statement of their own (use counts are kept
 *   by key id, so a one-use key is still counted exactly once, whichever version found it).
 * - At most MAX_LIVE_VERSIONS versions are live. A rotation that would make one more drops the oldest
 *   when no live row uses it (expired and spent rows do not count: they expire or are purged by
 *   themselves), and is refused otherwise, until the operator retires that version
 *   (`clavis admin kek retire-hashes VERSION`, which with `--revoke-remaining` revokes what still uses
 *   it, forcing its re-issue). A rotation also drops any version older than the one it supersedes that
 *   no live row uses (and says so in its report and audit record).
 * - A server keeps the keyring it read at start: until restarted after a rotation it hashes under the
 *   version it knows (still live, so still valid) and does not know the new one, so a credential issued
 *   or re-keyed by a restarted server is refused by one not yet restarted. Servers restart together.
 * - Re-keying is not audited per credential (it changes no credential, and would double the records on
 *   the hot paths); the rotation and each retirement are, with their counts.
 *
 * What an old KEK still gives an attacker who also has a database copy from before the rotation: the
 * hashing keys up to that time, so the hashes in that copy can be tested against guesses — useless for
 * 256-bit random secrets. It gives them nothing about hashes stored after the rotation under the new
 * version: secrets issued or re-keyed since are keyed under a key sealed only under the new KEK.
 */
import { randomBytes } from 'node:crypto';

/** One version of the secret-hashing key. */
export interface HashingKey {
  version: number;
  key: Buffer;
}

/** The current version and at most two older ones. */
export const MAX_LIVE_VERSIONS = 3;

/** What a stored hash under `version` starts with. */
export function hashVersionPrefix(version: number): string {
  return version === 0 ? '' : `v${version}.`;
}

/** The version a stored hash names (0 without a prefix), or undefined when it names none readable. */
export function hashVersionOf(storedHash: string): number | undefined {
  const dot = storedHash.indexOf('.');
  if (dot < 0) return 0;
  if (storedHash.charCodeAt(0) !== 0x76 /* v */ || dot < 2 || dot > 8) return undefined;
  const version = Number(storedHash.slice(1, dot));
  return Number.isSafeInteger(version) && version > 0 ? version : undefined;
}

/** A SQL LIKE pattern and whether it must NOT match, selecting stored hashes under `version`. */
export function hashVersionPattern(version: number): { pattern: string; negate: boolean } {
  return version === 0 ? { pattern: '%.%', negate: true } : { pattern: `v${version}.%`, negate: false };
}

/** The live hashing keys: the current one first, then the older ones, newest first. */
export interface HashingKeyring {
  current: HashingKey;
  older: HashingKey[];
}

/** A fresh random key as the next version; the current one becomes the newest older one. */
export function withNewVersion(ring: HashingKeyring): HashingKeyring {
  return {
    current: { version: ring.current.version + 1, key: randomBytes(32) },
    older: [ring.current, ...ring.older],
  };
}
