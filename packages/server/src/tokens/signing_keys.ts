/**
 * Signing keys and their rotation.
 *
 * Time is cut into slots of `rotationIntervalMs`; slot n's key signs during [n·I, (n+1)·I). The key
 * for the current slot and the next one always exist, so the next key is in the JWKS a whole interval
 * before it signs anything; a retired key stays published until every token it signed has expired.
 * Keys are created with `INSERT … ON CONFLICT DO NOTHING` on (alg, slot), so several instances on one
 * database converge on the same keys without coordination.
 *
 * Two algorithms may be kept this way: the access tokens' (`alg`) and the ID tokens' (RS256, which OpenID
 * Connect requires every provider to support and clients expect by default). When they differ, the RS256
 * keys are made lazily: an RSA key costs tens to hundreds of milliseconds of CPU, and a server that never
 * issues an ID token (or a fresh database at start-up) should not pay for it. The first ID token asks for
 * them; from then on — and on any instance whose refresh finds an RS256 key already stored — the current
 * and next RS256 keys are kept like the access tokens' ones, on the same slots, rows and rotation. Keys
 * are generated off the event loop (`generateKeyPair`), never inside a transaction.
 *
 * Only the sealed private key is trusted: the published JWKS is derived from it after unsealing, and a row
 * whose stored public key, `kid` thumbprint or algorithm disagrees with it (someone wrote to the table
 * without the KEK) is refused: logged, never published, never used to sign. A refused key of the current
 * or next slot is discarded and a fresh one minted for the slot, so the server keeps serving.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import { type SealingKeys, seal, unsealWithAny } from '../crypto/seal.js';
import type { Database, SigningKeyRow } from '../storage/schema.js';
import { type SigningAlg, signingAlgs } from './jws.js';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  activatesAt: number;
  retiresAt: number;
  expiresAt: number;
}

/** A key row's schedule, without its key material. */
export interface SigningKeyInfo {
  kid: string;
  alg: string;
  activatesAt: number;
  retiresAt: number;
  /** When it leaves the JWKS: tokens it signed stop verifying. */
  expiresAt: number;
  createdAt: number;
}

/** A key replaced before its time, and when it leaves the JWKS. */
export interface WithdrawnKey {
  kid: string;
  alg: string;
  withdrawnAt: number;
}

export interface KeyStoreOptions {
  alg: SigningAlg;
  rotationIntervalMs: number;
  /** The longest lifetime any token signed by a key may have (for the key's publication window). */
  maxTokenTtlMs: number;
  clock: () => number;
  /** Where a refused key row is reported (once per key and reason). Default: a line on stderr. */
  logger?: KeyStoreLogger;
}

/** The part of a pino logger the key store uses. */
export interface KeyStoreLogger {
  error(fields: Record<string, unknown>, message: string): void;
}

const stderrLogger: KeyStoreLogger = {
  error(fields, message) {
    process.stderr.write(`${JSON.stringify({ level: 'error', msg: message, ...fields })}\n`);
  },
};

/** A key row checked against its own sealed private key. */
type CheckedRow = { ok: true; key: SigningKey; jwk: JWK } | { ok: false; reason: string };

/** Whether a public JWK is of the type `alg` signs with. */
function fitsAlg(jwk: JWK, alg: string): boolean {
  switch (alg) {
    case 'EdDSA':
      return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
    case 'ES256':
      return jwk.kty === 'EC' && jwk.crv === 'P-256';
    case 'RS256':
      return jwk.kty === 'RSA';
    default:
      return false;
  }
}

/** The same members with the same values (JWK members are strings). */
function sameJwk(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

const CLOCK_SKEW_MS = 5 * 60_000;

/** The algorithm ID tokens are signed with (OIDC Core §3.1.3.7, §15.1; Discovery §3), whatever `alg` is. */
export const ID_TOKEN_ALG: SigningAlg = 'RS256';

interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Key pairs made ahead of a `replaceAll`, by alg: generated before its transaction, not inside it. */
export type SpareKeyPairs = Map<string, KeyPair[]>;

const generateKeyPairAsync = promisify(generateKeyPair);

/** A fresh key pair for `alg`, generated in libuv's thread pool: an RSA key never blocks the event loop. */
function generate(alg: SigningAlg): Promise<KeyPair> {
  switch (alg) {
    case 'EdDSA':
      return generateKeyPairAsync('ed25519');
    case 'ES256':
      return generateKeyPairAsync('ec', { namedCurve: 'P-256' });
    case 'RS256':
      return generateKeyPairAsync('rsa', { modulusLength: 2048 });
  }
}

export class KeyStore {
  readonly #db: Kysely<Database>;
  readonly #sealingKey: Buffer;
  /** The keys a stored private key may be sealed under: the current KEK's first, then previous ones'. */
  readonly #openingKeys: readonly Buffer[];
  readonly #options: KeyStoreOptions;
  #keys: SigningKey[] = [];
  #byKid = new Map<string, SigningKey>();
  /** The published JWK of each loaded key, derived from its private key. */
  #jwkByKid = new Map<string, JWK>();
  /** Refusals already logged (`kid:reason`), so a bad row is reported once, not on every refresh. */
  readonly #reported = new Set<string>();
  #jwks = '{"keys":[]}';
  #refreshing: Promise<void> | undefined;
  #audit: AuditLog | undefined;
  /** An ID token was asked for: keep RS256 keys even before any is stored. */
  #idTokenKeysWanted = false;

  constructor(db: Kysely<Database>, sealingKey: Buffer | SealingKeys, options: KeyStoreOptions) {
    this.#db = db;
    this.#sealingKey = Buffer.isBuffer(sealingKey) ? sealingKey : sealingKey.seal;
    this.#openingKeys = Buffer.isBuffer(sealingKey) ? [sealingKey] : sealingKey.open;
    this.#options = options;
  }

  /**
   * Records every key this store creates from now on in `audit` (`signing_key.create` for a slot that
   * had no key signing, `signing_key.rotate` for a successor made ahead). `serve` does this before its
   * first refresh.
   */
  recordCreationsIn(audit: AuditLog): void {
    this.#audit = audit;
  }

  /** The access tokens' algorithm. */
  get alg(): SigningAlg {
    return this.#options.alg;
  }

  /** Creates the current and next keys if missing and reloads the published set. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const now = this.#options.clock();
    const slot = Math.floor(now / this.#options.rotationIntervalMs);
    const accessAlg = this.#options.alg;
    await this.#ensureSlots(accessAlg, slot);
    let loaded = await this.#load(now);
    // The ID tokens' keys, once wanted here or stored by any instance (see the top of this file). A
    // refused row does not count: it is no key of ours, and must not make us mint RSA keys.
    const algs = [accessAlg];
    if (
      ID_TOKEN_ALG !== accessAlg &&
      (this.#idTokenKeysWanted || loaded.keys.some((k) => k.key.alg === ID_TOKEN_ALG))
    ) {
      algs.push(ID_TOKEN_ALG);
      if (await this.#ensureSlots(ID_TOKEN_ALG, slot)) loaded = await this.#load(now);
    }
    // A refused key of a slot that signs now or next cannot stay in the way: discard exactly the row we
    // refused (another instance may have replaced it already) and mint a fresh key for the slot.
    const replace = loaded.refused.filter(
      (r) => algs.includes(r.alg as SigningAlg) && Number(r.slot) >= slot,
    );
    if (replace.length > 0) {
      for (const row of replace) {
        await this.#db
          .deleteFrom('signing_keys')
          .where('kid', '=', row.kid)
          .where('public_jwk', '=', row.public_jwk)
          .where('private_key', '=', row.private_key)
          .execute();
      }
      for (const alg of algs) await this.#ensureSlots(alg, slot);
      loaded = await this.#load(now);
    }
    const keys = loaded.keys.map((k) => k.key);
    this.#keys = keys;
    this.#byKid = new Map(keys.map((k) => [k.kid, k]));
    this.#jwkByKid = new Map(loaded.keys.map((k) => [k.key.kid, k.jwk]));
    this.#jwks = JSON.stringify({ keys: loaded.keys.map((k) => k.jwk) });
  }

  /** The unexpired rows, each checked against its sealed private key; refused rows are reported. */
  async #load(
    now: number,
  ): Promise<{ keys: Array<{ key: SigningKey; jwk: JWK }>; refused: SigningKeyRow[] }> {
    const rows = await this.#db
      .selectFrom('signing_keys')
      .selectAll()
      .where('expires_at', '>', now)
      // Keys of one period in a stable order (the access tokens' alg and RS256 share activation times).
      .orderBy('activates_at')
      .orderBy('alg')
      .orderBy('slot')
      .execute();
    const keys: Array<{ key: SigningKey; jwk: JWK }> = [];
    const refused: SigningKeyRow[] = [];
    for (const row of rows) {
      const checked = await this.#check(row);
      if (checked.ok) {
        keys.push({ key: checked.key, jwk: checked.jwk });
        continue;
      }
      refused.push(row);
      const reported = `${row.kid}:${checked.reason}`;
      if (!this.#reported.has(reported)) {
        this.#reported.add(reported);
        (this.#options.logger ?? stderrLogger).error(
          { kid: row.kid, alg: row.alg, slot: Number(row.slot), reason: checked.reason },
          'signing key refused: the stored row disagrees with its sealed private key; not published, not used',
        );
      }
    }
    return { keys, refused };
  }

  /**
   * Checks a row against its sealed private key (the kid is the sealing context, so only a KEK holder can
   * produce a row that unseals): the stored public key must be the one derived from it, the kid its
   * RFC 7638 thumbprint, and the key of the type `alg` names.
   */
  async #check(row: SigningKeyRow): Promise<CheckedRow> {
    let stored: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(row.public_jwk);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      stored = parsed as Record<string, unknown>;
    } catch {
      return { ok: false, reason: 'public_jwk is not a JSON object' };
    }
    const known = this.#byKid.get(row.kid);
    const knownJwk = this.#jwkByKid.get(row.kid);
    if (known && knownJwk && known.alg === row.alg) {
      // The key material is known; its schedule is the row's (an operator may have cut it short).
      return sameJwk(knownJwk as Record<string, unknown>, stored)
        ? {
            ok: true,
            key: {
              ...known,
              activatesAt: row.activates_at,
              retiresAt: row.retires_at,
              expiresAt: row.expires_at,
            },
            jwk: knownJwk,
          }
        : { ok: false, reason: 'public_jwk differs from the private key' };
    }
    if (!signingAlgs.includes(row.alg as SigningAlg)) return { ok: false, reason: 'unknown alg' };
    let privateKey: KeyObject;
    try {
      const der = unsealWithAny(this.#openingKeys, row.private_key, `signing-key:${row.kid}`).plaintext;
      privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch {
      return { ok: false, reason: 'private key does not unseal under its kid' };
    }
    const publicKey = createPublicKey(privateKey);
    const derived = publicKey.export({ format: 'jwk' }) as JWK;
    if (!fitsAlg(derived, row.alg)) return { ok: false, reason: 'key type does not fit alg' };
    if ((await calculateJwkThumbprint(derived)) !== row.kid) {
      return { ok: false, reason: 'kid is not the thumbprint of the private key' };
    }
    const jwk: JWK = { ...derived, kid: row.kid, alg: row.alg, use: 'sig' };
    if (!sameJwk(jwk as Record<string, unknown>, stored)) {
      return { ok: false, reason: 'public_jwk differs from the private key' };
    }
    return {
      ok: true,
      jwk,
      key: {
        kid: row.kid,
        alg: row.alg as SigningAlg,
        privateKey,
        publicKey,
        activatesAt: row.activates_at,
        retiresAt: row.retires_at,
        expiresAt: row.expires_at,
      },
    };
  }

  /**
   * Creates `alg`'s keys of the current slot and the next if they have none (the next one is a successor,
   * made ahead of time), generating the missing ones side by side; true when any was missing.
   */
  async #ensureSlots(alg: SigningAlg, slot: number): Promise<boolean> {
    const existing = await this.#db
      .selectFrom('signing_keys')
      .select('slot')
      .where('alg', '=', alg)
      .where('slot', 'in', [slot, slot + 1])
      .execute();
    const have = new Set(existing.map((r) => Number(r.slot)));
    const missing = [slot, slot + 1].filter((s) => !have.has(s));
    if (missing.length === 0) return false;
    // Generated before any insert, off the event loop; no connection is held meanwhile.
    const pairs = await Promise.all(missing.map(() => generate(alg)));
    for (const [i, s] of missing.entries()) await this.#insertKey(alg, s, s > slot, pairs[i] as KeyPair);
    return true;
  }

  /**
   * Stores `pair` as the key of `slot` unless the slot has one already (`successor`: the next slot's,
   * made ahead of time), and records it when this instance's insert is the one that took.
   */
  async #insertKey(alg: SigningAlg, slot: number, successor: boolean, pair: KeyPair): Promise<void> {
    const { rotationIntervalMs, maxTokenTtlMs, clock } = this.#options;
    const audit = this.#audit;
    const { privateKey, publicKey } = pair;
    const jwk = publicKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(jwk);
    const activatesAt = slot * rotationIntervalMs;
    const retiresAt = activatesAt + rotationIntervalMs;
    const expiresAt = retiresAt + maxTokenTtlMs + CLOCK_SKEW_MS;
    const inserted = await this.#db
      .insertInto('signing_keys')
      .values({
        kid,
        alg,
        slot,
        public_jwk: JSON.stringify({ ...jwk, kid, alg, use: 'sig' }),
        private_key: seal(
          this.#sealingKey,
          privateKey.export({ format: 'der', type: 'pkcs8' }),
          `signing-key:${kid}`,
        ),
        activates_at: activatesAt,
        retires_at: retiresAt,
        expires_at: expiresAt,
        created_at: clock(),
      })
      .onConflict((oc) => oc.columns(['alg', 'slot']).doNothing())
      .executeTakeFirst();
    // Another instance may have made this slot's key first: only the insert that took is recorded.
    if (!audit || Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return;
    // Not awaited: a refresh can run while a group commit waits for it (a key needed inside a unit of
    // work), and a record awaited there would wait for that very commit.
    void audit
      .record({
        event: successor ? 'signing_key.rotate' : 'signing_key.create',
        actor: { type: 'system' },
        detail: {
          kid,
          alg,
          slot,
          activates_at: new Date(activatesAt).toISOString(),
          retires_at: new Date(retiresAt).toISOString(),
          expires_at: new Date(expiresAt).toISOString(),
        },
      })
      .catch(() => {
        // The audit log is closed or the database failing: the key stands, as the insert committed.
      });
  }

  /**
   * Key pairs for the successors a `replaceAll` now would make, generated outside any transaction: an
   * RSA key made inside one would hold its group commit (and every request queued behind it) meanwhile.
   */
  async spareKeyPairs(): Promise<SpareKeyPairs> {
    const now = this.#options.clock();
    const rows = await this.#db
      .selectFrom('signing_keys')
      .select('alg')
      .where('expires_at', '>', now)
      .where('retires_at', '>', now)
      .where('slot', '>=', 0)
      .execute();
    const spare: SpareKeyPairs = new Map();
    await Promise.all(
      rows
        .filter((r) => signingAlgs.includes(r.alg as SigningAlg))
        .map(async (r) => {
          const pair = await generate(r.alg as SigningAlg);
          const list = spare.get(r.alg) ?? [];
          list.push(pair);
          spare.set(r.alg, list);
        }),
    );
    return spare;
  }

  /**
   * Replaces every unexpired key with fresh key material on the same schedule (suspected compromise),
   * inside `tx`: each key that signs now or will sign gets a successor for the rest of its period, made
   * now; every old key stops signing now and leaves the JWKS once the tokens it signed have expired — its
   * own publication tail after now (the longest token lifetime and the clock skew) — or at once with
   * `withdrawNow`, when the tokens it signed stop verifying too. A key that has not signed yet leaves at
   * once either way. The ID tokens' RS256 keys are replaced like the access tokens'. A replaced key leaves
   * the slot sequence (its slot becomes negative, below every other), so the slot is free for its
   * successor and no instance recreates it.
   */
  async replaceAll(
    tx: Kysely<Database>,
    options: { withdrawNow: boolean },
    /** From `spareKeyPairs()` before the transaction; a key missing there is generated here. */
    spare: SpareKeyPairs = new Map(),
  ): Promise<{ withdrawn: WithdrawnKey[]; created: SigningKeyInfo[] }> {
    const now = this.#options.clock();
    const rows = await tx
      .selectFrom('signing_keys')
      .selectAll()
      .where('expires_at', '>', now)
      .orderBy('activates_at')
      .execute();
    const lowest = await tx
      .selectFrom('signing_keys')
      .select((eb) => eb.fn.min<number>('slot').as('slot'))
      .executeTakeFirst();
    let free = Math.min(Number(lowest?.slot ?? 0), 0) - 1;
    const withdrawn: WithdrawnKey[] = [];
    const created: SigningKeyInfo[] = [];
    for (const row of rows) {
      const signed = row.activates_at <= now;
      const tail = row.expires_at - row.retires_at;
      const expiresAt = options.withdrawNow || !signed ? now : Math.min(row.expires_at, now + tail);
      await tx
        .updateTable('signing_keys')
        .set({
          slot: free--,
          activates_at: Math.min(row.activates_at, now),
          retires_at: Math.min(row.retires_at, now),
          expires_at: expiresAt,
        })
        .where('kid', '=', row.kid)
        .execute();
      withdrawn.push({ kid: row.kid, alg: row.alg, withdrawnAt: expiresAt });
      // A key that signs now or later gets a successor for the rest of its period.
      if (row.retires_at <= now || !signingAlgs.includes(row.alg as SigningAlg) || Number(row.slot) < 0)
        continue;
      const alg = row.alg as SigningAlg;
      const { privateKey, publicKey } = spare.get(alg)?.shift() ?? (await generate(alg));
      const jwk = publicKey.export({ format: 'jwk' }) as JWK;
      const kid = await calculateJwkThumbprint(jwk);
      const activatesAt = Math.max(row.activates_at, now);
      await tx
        .insertInto('signing_keys')
        .values({
          kid,
          alg,
          slot: Number(row.slot),
          public_jwk: JSON.stringify({ ...jwk, kid, alg, use: 'sig' }),
          private_key: seal(
            this.#sealingKey,
            privateKey.export({ format: 'der', type: 'pkcs8' }),
            `signing-key:${kid}`,
          ),
          activates_at: activatesAt,
          retires_at: row.retires_at,
          expires_at: row.expires_at,
          created_at: now,
        })
        .execute();
      created.push({
        kid,
        alg,
        activatesAt,
        retiresAt: row.retires_at,
        expiresAt: row.expires_at,
        createdAt: now,
      });
    }
    return { withdrawn, created };
  }

  /** The keys in the database: unexpired ones, or all with `all`, oldest first. */
  async list(options: { all?: boolean } = {}): Promise<SigningKeyInfo[]> {
    let query = this.#db.selectFrom('signing_keys').selectAll().orderBy('activates_at').orderBy('created_at');
    if (!options.all) query = query.where('expires_at', '>', this.#options.clock());
    const rows = await query.execute();
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg,
      activatesAt: r.activates_at,
      retiresAt: r.retires_at,
      expiresAt: r.expires_at,
      createdAt: r.created_at,
    }));
  }

  /** The key that signs access tokens now. Refreshes first when the loaded set has no key for this instant. */
  async current(): Promise<SigningKey> {
    const alg = this.#options.alg;
    const key = this.#currentLoaded(alg);
    if (key) return key;
    await this.refresh();
    const after = this.#currentLoaded(alg);
    if (!after) throw new Error('no signing key for the current time');
    return after;
  }

  /**
   * The key that signs ID tokens now (RS256). The first call on a database without RS256 keys creates
   * the current and next ones; load it before any transaction, as for `current()`.
   */
  async currentIdTokenKey(): Promise<SigningKey> {
    if (ID_TOKEN_ALG === this.#options.alg) return this.current();
    const key = this.#currentLoaded(ID_TOKEN_ALG);
    if (key) return key;
    this.#idTokenKeysWanted = true;
    // A refresh already under way may have started before the keys were wanted: then one more.
    for (let attempt = 0; attempt < 2; attempt++) {
      await this.refresh();
      const after = this.#currentLoaded(ID_TOKEN_ALG);
      if (after) return after;
    }
    throw new Error('no ID token signing key for the current time');
  }

  /** When the loaded access-token key that signs now started signing, or undefined when none is loaded. */
  currentActivatedAt(): number | undefined {
    return this.#currentLoaded(this.#options.alg)?.activatesAt;
  }

  #currentLoaded(alg: SigningAlg): SigningKey | undefined {
    const now = this.#options.clock();
    for (const k of this.#keys) {
      if (k.alg === alg && k.activatesAt <= now && now < k.retiresAt) return k;
    }
    return undefined;
  }

  /** A published key by `kid`, for verifying our own tokens (retired keys included until they expire). */
  byKid(kid: string): SigningKey | undefined {
    const k = this.#byKid.get(kid);
    return k && k.expiresAt > this.#options.clock() ? k : undefined;
  }

  /** The JWKS document: previous, current and next public keys of each algorithm kept. */
  jwksJson(): string {
    return this.#jwks;
  }
}

/**
 * Re-seals under `sealKey` every stored private key that opens only with one of `open` (a previous
 * KEK's): the KEK rotation. Rows no key opens are left as they are (the key store refuses them).
 */
export async function resealSigningKeys(
  tx: Kysely<Database>,
  sealKey: Buffer,
  open: readonly Buffer[],
): Promise<{ resealed: number; unopenable: number }> {
  const rows = await tx.selectFrom('signing_keys').select(['kid', 'private_key']).execute();
  let resealed = 0;
  let unopenable = 0;
  for (const row of rows) {
    const context = `signing-key:${row.kid}`;
    let opened: { plaintext: Buffer; index: number };
    try {
      opened = unsealWithAny([sealKey, ...open], row.private_key, context);
    } catch {
      unopenable++;
      continue;
    }
    if (opened.index === 0) continue;
    await tx
      .updateTable('signing_keys')
      .set({ private_key: seal(sealKey, opened.plaintext, context) })
      .where('kid', '=', row.kid)
      .where('private_key', '=', row.private_key)
      .execute();
    resealed++;
  }
  return { resealed, unopenable };
}
