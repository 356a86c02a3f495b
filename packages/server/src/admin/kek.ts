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
 * what a server still running under the old KEK sealed since, and is otherwise a no-op. Hashes of
 * secrets do not move: their key is one of the wrapped keys (no credential is re-issued).
 */
import { closeSync, openSync, unlinkSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import { type Kek, KekRing, prependNewKey } from '../crypto/kek.js';
import {
  deriveStableKeys,
  unwrapStableKeys,
  WRAPPED_KEYS_SETTING,
  wrapStableKeys,
} from '../crypto/stable_keys.js';
import { resealIdpSecret } from '../idps/idp_secret.js';
import type { Database } from '../storage/schema.js';
import { resealSigningKeys } from '../tokens/signing_keys.js';
import { resealTotpSecret } from '../users/totp_secret.js';
import { type Actor, actorFields, recordingRefusal } from './actor.js';
import { AdminError } from './errors.js';

export interface KekAdminDeps {
  db: Kysely<Database>;
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
      const stable = wrapped ? unwrapStableKeys(ring.all(), wrapped.value).keys : deriveStableKeys(from);
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
      },
    }),
  );
}
