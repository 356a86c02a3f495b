/**
 * Rotating the key-encryption key (KEK): everything sealed under a previous KEK — the signing keys'
 * private keys, the TOTP secrets, identity providers' client secrets, the wrapped keys that outlive rotations (see crypto/stable_keys.ts) —
 * is re-sealed under the current one, and the database's KEK check moves to it, in one transaction with
 * its audit record: a crash leaves the database wholly under the old KEK or wholly under the new.
 *
 * The new KEK is configured first: with `CLAVIS_KEK`, the operator sets it and `CLAVIS_KEK_PREVIOUS`;
 * with a key file, `generate` puts a fresh key at its top (the old one kept as previous) when the
 * database is under the current key — not when it is still under a previous one (a run that crashed
 * after writing the file): that one is finished first. Without `generate`, running it again re-seals
 * what a server still running under the old KEK sealed since, and is otherwise a no-op.
 *
 * A rotation that moves the database also starts a new version of the secret-hashing key, in the same
 * transaction (see crypto/hashing_keys.ts and admin/hashing_versions.ts): new hashes are under it, older
 * ones are re-keyed as their secrets are presented; no credential is re-issued. `kekStatus` reports the
 * live hashes per version; `retireHashes` drops an older version that nothing live uses (or revokes
 * what still does).
 */
import { closeSync, openSync, unlinkSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import { type Kek, KekRing, prependNewKey } from '../crypto/kek.js';
import {
  deriveStableKeys,
  hashingKeyring,
  unwrapStableKeys,
  WRAPPED_KEYS_SETTING,
  withHashingKeyring,
  wrapStableKeys,
} from '../crypto/stable_keys.js';
import { resealIdpSecret } from '../idps/idp_secret.js';
import type { HashedSecretTable } from '../storage/hashed_secrets.js';
import type { Database } from '../storage/schema.js';
import { resealSigningKeys } from '../tokens/signing_keys.js';
import { resealTotpSecret } from '../users/totp_secret.js';
import { type Actor, actorFields, recordingRefusal } from './actor.js';
import { AdminError } from './errors.js';
import {
  type HashingVersionUse,
  hashingVersionUse,
  readStableKeys,
  retireHashingVersion,
  rotateHashingKeys,
} from './hashing_versions.js';

export interface KekAdminDeps {
  db: Kysely<Database>;
  clock: () => number;
  audit: AuditLog;
  /** The KEK the database is under now. */
  kek: Kek;
  kekRing: KekRing;
}

export interface KekRotation {
  /** Fingerprints (non-secret) of the KEK the database was under, and of the one it is under now. */
  from: string;
  to: string;
  /** The database moved to another KEK (false: it was under the current one already). */
  moved: boolean;
  /** A fresh key was put at the top of this key file first. */
  generatedIn: string | undefined;
  resealedSigningKeys: number;
  resealedTotpSecrets: number;
  /** Identity providers' client secrets. */
  resealedIdpSecrets: number;
  /** Stored values no configured KEK opens (left as they are). */
  unopenable: number;
  /** The secret-hashing key versions after the rotation, current first, with their live hashes. */
  hashing: HashingVersionUse[];
  /** Older versions dropped because no live row used them any more. */
  droppedHashingVersions: number[];
}

/** `FILE.lock`, created exclusively: two rotations of one key file at once would lose a key. */
function lockKeyFile(file: string): () => void {
  const lock = `${file}.lock`;
  try {
    closeSync(openSync(lock, 'wx', 0o600));
  } catch (err) {
    if ((err as { code?: unknown }).code === 'EEXIST') {
      throw new AdminError(
        `another kek rotate holds ${lock} (if none is running, a crashed one left it: remove it and run again)`,
        'conflict',
      );
    }
    throw err;
  }
  return () => unlinkSync(lock);
}

export function rotateKek(
  deps: KekAdminDeps,
  options: { generate?: boolean | undefined },
  actor: Actor,
): Promise<KekRotation> {
  return recordingRefusal(
    deps.audit,
    { event: 'kek.rotate', actor, target: { generate: options.generate === true } },
    async () => {
      const fromFile = deps.kekRing.source !== 'CLAVIS_KEK';
      if (options.generate && !fromFile) {
        throw new AdminError(
          'a new key is generated into the key file only: with CLAVIS_KEK, set the new key there and the current one in CLAVIS_KEK_PREVIOUS',
          'invalid_input',
        );
      }
      const unlock = fromFile ? lockKeyFile(deps.kekRing.source) : undefined;
      try {
        let ring = deps.kekRing;
        let generatedIn: string | undefined;
        if (deps.kek !== ring.current || options.generate) {
          // Refused before a key is written, when the hashing keys could not take another version.
          const stable = await readStableKeys(deps.db, ring.all(), deps.kek);
          await rotateHashingKeys(deps.db, hashingKeyring(stable), deps.clock());
        }
        if (options.generate && deps.kek === ring.current) {
          const fresh = prependNewKey(ring.source);
          ring = new KekRing(fresh, ring.all(), ring.source, false);
          generatedIn = ring.source;
        }
        return await reseal(deps, ring, generatedIn, actor);
      } finally {
        unlock?.();
      }
    },
  );
}

async function reseal(
  deps: KekAdminDeps,
  ring: KekRing,
  generatedIn: string | undefined,
  actor: Actor,
): Promise<KekRotation> {
  const from = deps.kek;
  const target = ring.current;
  const others = ring.previous;
  return deps.audit.transact(
    async (tx) => {
      const check = await tx
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'kek_check')
        .executeTakeFirst();
      if (!check || !from.matches(check.value)) {
        throw new AdminError('the database moved to another KEK meanwhile: run kek rotate again', 'conflict');
      }
      const signing = await resealSigningKeys(
        tx,
        target.derive('signing-key-sealing'),
        others.map((k) => k.derive('signing-key-sealing')),
      );
      const totpSeal = target.derive('totp-sealing');
      const totpOpen = others.map((k) => k.derive('totp-sealing'));
      const users = await tx
        .selectFrom('users')
        .select(['id', 'totp_secret'])
        .where('totp_secret', 'is not', null)
        .execute();
      let resealedTotp = 0;
      let unopenable = signing.unopenable;
      for (const user of users) {
        if (user.totp_secret === null) continue;
        let resealed: string | undefined;
        try {
          resealed = resealTotpSecret(totpSeal, totpOpen, user.id, user.totp_secret);
        } catch {
          unopenable++;
          continue;
        }
        if (resealed === undefined) continue;
        await tx
          .updateTable('users')
          .set({ totp_secret: resealed })
          .where('id', '=', user.id)
          .where('totp_secret', '=', user.totp_secret)
          .execute();
        resealedTotp++;
      }
      const idpSeal = target.derive('idp-sealing');
      const idpOpen = others.map((k) => k.derive('idp-sealing'));
      let resealedIdp = 0;
      for (const idp of await tx.selectFrom('identity_providers').select(['id', 'client_secret']).execute()) {
        let resealed: string | undefined;
        try {
          resealed = resealIdpSecret(idpSeal, idpOpen, idp.id, idp.client_secret);
        } catch {
          unopenable++;
          continue;
        }
        if (resealed === undefined) continue;
        await tx
          .updateTable('identity_providers')
          .set({ client_secret: resealed })
          .where('id', '=', idp.id)
          .where('client_secret', '=', idp.client_secret)
          .execute();
        resealedIdp++;
      }
      const wrapped = await tx
        .selectFrom('settings')
        .select('value')
        .where('key', '=', WRAPPED_KEYS_SETTING)
        .executeTakeFirst();
      const stored = wrapped ? unwrapStableKeys(ring.all(), wrapped.value).keys : deriveStableKeys(from);
      const now = deps.clock();
      let hashing = hashingKeyring(stored);
      let droppedHashingVersions: number[] = [];
      if (from !== target)
        ({ ring: hashing, dropped: droppedHashingVersions } = await rotateHashingKeys(tx, hashing, now));
      const stable = withHashingKeyring(stored, hashing);
      const upsert = (key: string, value: string) =>
        tx
          .insertInto('settings')
          .values({ key, value })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
          .execute();
      await upsert(WRAPPED_KEYS_SETTING, wrapStableKeys(target, stable));
      await upsert('kek_check', target.checkValue());
      return {
        from: from.fingerprint(),
        to: target.fingerprint(),
        moved: from !== target,
        generatedIn,
        resealedSigningKeys: signing.resealed,
        resealedTotpSecrets: resealedTotp,
        resealedIdpSecrets: resealedIdp,
        unopenable,
        hashing: await hashingVersionUse(tx, hashing, now),
        droppedHashingVersions,
      };
    },
    (r: KekRotation) => ({
      event: 'kek.rotate',
      ...actorFields(actor),
      detail: {
        from: r.from,
        to: r.to,
        moved: r.moved,
        generated: r.generatedIn !== undefined,
        resealed_signing_keys: r.resealedSigningKeys,
        resealed_totp_secrets: r.resealedTotpSecrets,
        resealed_idp_secrets: r.resealedIdpSecrets,
        unopenable: r.unopenable,
        hashing_version: r.hashing[0]?.version ?? 0,
        hashes_under_older_versions: olderTotal(r.hashing),
        dropped_hashing_versions: r.droppedHashingVersions,
      },
    }),
  );
}

/** Live stored hashes under versions other than the current one. */
export function olderTotal(hashing: readonly HashingVersionUse[]): number {
  return hashing.filter((h) => !h.current).reduce((sum, h) => sum + h.total, 0);
}

export interface KekStatus {
  /** Fingerprint of the KEK the database is under, and of the configured current one. */
  inUse: string;
  configured: string;
  rotationPending: boolean;
  hashing: HashingVersionUse[];
}

/** Which KEK the database is under, and the secret-hashing key versions with their live hashes. */
export async function kekStatus(deps: KekAdminDeps): Promise<KekStatus> {
  const stable = await readStableKeys(deps.db, deps.kekRing.all(), deps.kek);
  return {
    inUse: deps.kek.fingerprint(),
    configured: deps.kekRing.current.fingerprint(),
    rotationPending: deps.kek !== deps.kekRing.current,
    hashing: await hashingVersionUse(deps.db, hashingKeyring(stable), deps.clock()),
  };
}

export interface HashRetirement {
  version: number;
  /** Live rows that still used it, revoked (or deleted) with it, per table. */
  revoked: Record<HashedSecretTable, number>;
  hashing: HashingVersionUse[];
}

/**
 * Retires an older secret-hashing key version: hashes under it no longer match anything. Refused while
 * live rows use it, unless `revokeRemaining` (they are revoked in the same transaction).
 */
export function retireHashes(
  deps: KekAdminDeps,
  options: { version: number; revokeRemaining?: boolean | undefined },
  actor: Actor,
): Promise<HashRetirement> {
  const target = { version: options.version, revoke_remaining: options.revokeRemaining === true };
  return recordingRefusal(deps.audit, { event: 'kek.retire_hashes', actor, target }, () => {
    if (!Number.isSafeInteger(options.version) || options.version < 0) {
      throw new AdminError(
        'a secret-hashing key version is a whole number (see kek status)',
        'invalid_input',
      );
    }
    return deps.audit.transact(
      async (tx) => {
        const now = deps.clock();
        const stored = await readStableKeys(tx, deps.kekRing.all(), deps.kek);
        const plan = await retireHashingVersion(tx, hashingKeyring(stored), options.version, {
          revokeRemaining: options.revokeRemaining === true,
          now,
        });
        // Wrapped under the KEK the database is under (a pending rotation re-wraps it).
        await tx
          .insertInto('settings')
          .values({
            key: WRAPPED_KEYS_SETTING,
            value: wrapStableKeys(deps.kek, withHashingKeyring(stored, plan.ring)),
          })
          .onConflict((oc) =>
            oc
              .column('key')
              .doUpdateSet({ value: wrapStableKeys(deps.kek, withHashingKeyring(stored, plan.ring)) }),
          )
          .execute();
        return {
          version: options.version,
          revoked: plan.revoked,
          hashing: await hashingVersionUse(tx, plan.ring, now),
        };
      },
      (r: HashRetirement) => ({
        event: 'kek.retire_hashes',
        ...actorFields(actor),
        detail: { version: r.version, revoked: r.revoked, live_versions: r.hashing.map((h) => h.version) },
      }),
    );
  });
}
