/**
 * Signing keys and their rotation.
 *
 * Time is cut into slots of `rotationIntervalMs`; slot n's key signs during [n·I, (n+1)·I). The key
 * for the current slot and the next one always exist, so the next key is in the JWKS a whole interval
 * before it signs anything; a retired key stays published until every token it signed has expired.
 * Keys are created with `INSERT … ON CONFLICT DO NOTHING` on (alg, slot), so several instances on one
 * database converge on the same keys without coordination.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import { seal, unseal } from '../crypto/seal.js';
import type { Database } from '../storage/schema.js';
import type { SigningAlg } from '../tokens/jws.js';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  activatesAt: number;
  retiresAt: number;
  expiresAt: number;
}

export interface KeyStoreOptions {
  alg: SigningAlg;
  rotationIntervalMs: number;
  /** The longest lifetime any token signed by a key may have (for the key's publication window). */
  maxTokenTtlMs: number;
  clock: () => number;
}

const CLOCK_SKEW_MS = 5 * 60_000;

function generate(alg: SigningAlg): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
}

export class KeyStore {
  readonly #db: Kysely<Database>;
  readonly #sealingKey: Buffer;
  readonly #options: KeyStoreOptions;
  #keys: SigningKey[] = [];
  #byKid = new Map<string, SigningKey>();
  #jwks = '{"keys":[]}';
  #refreshing: Promise<void> | undefined;
  #audit: AuditLog | undefined;

  constructor(db: Kysely<Database>, sealingKey: Buffer, options: KeyStoreOptions) {
    this.#db = db;
    this.#sealingKey = sealingKey;
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
    for (const s of [slot, slot + 1]) await this.#ensureSlot(s, s > slot);
    const rows = await this.#db
      .selectFrom('signing_keys')
      .selectAll()
      .where('expires_at', '>', now)
      .orderBy('activates_at')
      .execute();
    const keys: SigningKey[] = [];
    for (const row of rows) {
      const known = this.#byKid.get(row.kid);
      if (known) {
        keys.push(known);
        continue;
      }
      const der = unseal(this.#sealingKey, row.private_key, `signing-key:${row.kid}`);
      const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      keys.push({
        kid: row.kid,
        alg: row.alg as SigningAlg,
        privateKey,
        publicKey: createPublicKey(privateKey),
        activatesAt: row.activates_at,
        retiresAt: row.retires_at,
        expiresAt: row.expires_at,
      });
    }
    this.#keys = keys;
    this.#byKid = new Map(keys.map((k) => [k.kid, k]));
    this.#jwks = JSON.stringify({
      keys: rows.map((r) => JSON.parse(r.public_jwk) as JWK),
    });
  }

  /**
   * Creates the key of `slot` if it has none (`successor`: the next slot's, made ahead of time), and
   * records it when this instance's insert is the one that took.
   */
  async #ensureSlot(slot: number, successor: boolean): Promise<void> {
    const { alg, rotationIntervalMs, maxTokenTtlMs, clock } = this.#options;
    const audit = this.#audit;
    const existing = await this.#db
      .selectFrom('signing_keys')
      .select('kid')
      .where('alg', '=', alg)
      .where('slot', '=', slot)
      .executeTakeFirst();
    if (existing) return;
    const { privateKey, publicKey } = generate(alg);
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

  /** The key that signs now. Refreshes first when the loaded set has no key for this instant. */
  async current(): Promise<SigningKey> {
    const key = this.#currentLoaded();
    if (key) return key;
    await this.refresh();
    const after = this.#currentLoaded();
    if (!after) throw new Error('no signing key for the current time');
    return after;
  }

  #currentLoaded(): SigningKey | undefined {
    const now = this.#options.clock();
    for (const k of this.#keys) {
      if (k.alg === this.#options.alg && k.activatesAt <= now && now < k.retiresAt) return k;
    }
    return undefined;
  }

  /** A published key by `kid`, for verifying our own tokens (retired keys included until they expire). */
  byKid(kid: string): SigningKey | undefined {
    const k = this.#byKid.get(kid);
    return k && k.expiresAt > this.#options.clock() ? k : undefined;
  }

  /** The JWKS document: previous, current and next public keys. */
  jwksJson(): string {
    return this.#jwks;
  }
}
