/**
 * Opening what every entry point needs — database (migrated), key-encryption key, secret hasher,
 * signing keys, a segment of the audit log — and closing it again. `clavis serve` and `clavis admin`
 * both start here, with the same checks.
 */

import { createSecretKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { AuditArchiveError, readArchiveManifest } from '../audit/archive.js';
import { type AuditSigningKey, loadAuditSigningKey } from '../audit/audit_key.js';
import { AuditLog } from '../audit/audit_log.js';
import { Kek, KekError, KekRing } from '../crypto/kek.js';
import type { SealingKeys } from '../crypto/seal.js';
import { SecretHasher } from '../crypto/secrets.js';
import {
  deriveStableKeys,
  hashingKeyring,
  type StableKeys,
  unwrapStableKeys,
  WRAPPED_KEYS_SETTING,
} from '../crypto/stable_keys.js';
import type { ChangeListenerOptions, PgChangeListener } from '../storage/change_listener.js';
import { type DialectName, openDatabase, parseDatabaseUrl } from '../storage/database.js';
import type { Database } from '../storage/schema.js';
import type { SigningAlg } from '../tokens/jws.js';
import { KeyStore, type KeyStoreLogger } from '../tokens/signing_keys.js';

export interface ServicesOptions {
  dbUrl: string;
  /** `CLAVIS_KEK`: the key itself. */
  kek?: string | undefined;
  /** `CLAVIS_KEK_PREVIOUS`: previous KEKs beside `CLAVIS_KEK`, comma-separated, newest first. */
  kekPrevious?: string | undefined;
  /** `CLAVIS_KEK_FILE`: where the key file is (default: beside the SQLite file, or ./clavis.kek). */
  kekFile?: string | undefined;
  /**
   * Whether a missing database and key-encryption key may be created (default true: `serve`, `admin
   * init`). Without it, a database that is not there, or was never set up, is an error naming it.
   */
  create?: boolean;
  /** Who writes audit records through these services: 'serve', 'cli'. */
  writer: string;
  /**
   * `CLAVIS_AUDIT_KEY`: the audit signing key file (created 0600 if missing). Only `serve` gives one: its
   * seals are signed; an admin command's are not (it holds no audit key).
   */
  auditKeyFile?: string | undefined;
  /** How long the audit segment's lease lasts without a heartbeat (ms; default 10 s). */
  auditLeaseMs?: number | undefined;
  clock?: () => number;
  signingAlg?: SigningAlg;
  keyRotationIntervalSeconds?: number;
  maxAccessTokenTtlSeconds?: number;
  poolSize?: number;
  /** PostgreSQL: listen for other instances' changes so the caches stay exact (serving only). */
  listenForChanges?: boolean | ChangeListenerOptions;
  /** SQLite: checkpoints on a worker thread (serving only); see `OpenDatabaseOptions`. */
  backgroundCheckpoints?: boolean | { onFallback(reason: string): void };
  /** Where refused signing-key rows are reported (default: stderr). */
  logger?: KeyStoreLogger;
}

export interface Services {
  db: Kysely<Database>;
  dialect: DialectName;
  dbDescription: string;
  /** PostgreSQL opened with `listenForChanges`: the connection keeping the caches exact. */
  changes?: PgChangeListener | undefined;
  hasher: SecretHasher;
  keys: KeyStore;
  audit: AuditLog;
  /** The KEK the database is sealed under: the current one, or a previous one until `kek rotate`. */
  kek: Kek;
  /** Every configured KEK, current first. */
  kekRing: KekRing;
  kekSource: string;
  /** The database is still under a previous KEK: `clavis admin kek rotate` moves it to the current one. */
  kekRotationPending: boolean;
  /** The keys that outlive KEK rotations (secret hashing, audit chain, audit subjects). */
  stableKeys: StableKeys;
  /** The audit chain's HMAC key, for `verifyAuditLog`. */
  auditKey: KeyObject;
  /** The audit signing key, when these services sign seals (`serve`). */
  auditSigning: AuditSigningKey | undefined;
  /** Seals TOTP secrets at rest. */
  totpKey: Buffer;
  /** Opens TOTP secrets: `totpKey` first, then the same key of every other configured KEK. */
  totpOpenKeys: readonly Buffer[];
  /** Seals identity providers' client secrets (`seal`), and opens them (`open`: `seal` first, then older KEKs'). */
  idpKeys: SealingKeys;
  clock: () => number;
  close(): Promise<void>;
}

function defaultKekFile(dbUrl: string): string {
  const parsed = parseDatabaseUrl(dbUrl);
  if (parsed.dialect === 'sqlite' && parsed.target !== ':memory:')
    return join(dirname(parsed.target), 'clavis.kek');
  return resolve('clavis.kek');
}

/** `CLAVIS_AUDIT_KEY`'s default: `clavis-audit.key` beside the KEK file. */
export function defaultAuditKeyFile(dbUrl: string, kekFile?: string): string {
  return join(dirname(kekFile ?? defaultKekFile(dbUrl)), 'clavis-audit.key');
}

/**
 * `CLAVIS_AUDIT_ANCHOR`'s default: beside the SQLite file (`<file>.audit-anchor`); for PostgreSQL,
 * `clavis.audit-anchor` beside the KEK file; none for an in-memory database, which starts empty every time.
 */
export function defaultAuditAnchorFile(dbUrl: string, kekFile?: string): string | undefined {
  const parsed = parseDatabaseUrl(dbUrl);
  if (parsed.dialect === 'sqlite')
    return parsed.target === ':memory:' ? undefined : `${parsed.target}.audit-anchor`;
  return join(dirname(kekFile ?? defaultKekFile(dbUrl)), 'clavis.audit-anchor');
}

/**
 * The audit chain key of an archive (`audit verify --archive`), from the KEK alone — no database: the
 * archive carries the KEK's check value and the wrapped stable keys as the database held them.
 */
export function archiveChainKey(
  dir: string,
  options: Pick<ServicesOptions, 'dbUrl' | 'kek' | 'kekPrevious' | 'kekFile'>,
): KeyObject {
  const manifest = readArchiveManifest(dir);
  const ring = KekRing.load({
    env: options.kek,
    previousEnv: options.kekPrevious,
    file: options.kekFile ?? defaultKekFile(options.dbUrl),
  });
  const wrapped = manifest.keys?.wrapped;
  if (wrapped) return createSecretKey(unwrapStableKeys(ring.all(), wrapped).keys.auditChain);
  const check = manifest.keys?.kek_check;
  const kek = check ? ring.matching(check) : undefined;
  if (!kek) throw new AuditArchiveError(`the key-encryption key from ${ring.source} is not the archive's`);
  return createSecretKey(deriveStableKeys(kek).auditChain);
}

async function loadKek(
  db: Kysely<Database>,
  options: ServicesOptions,
): Promise<{ ring: KekRing; inUse: Kek; stable: StableKeys }> {
  const file = options.kekFile ?? defaultKekFile(options.dbUrl);
  const setting = (key: string) =>
    db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  const stored = await setting('kek_check');
  if (!stored && options.create === false) {
    throw new KekError(
      'this database was never set up (it has no key-encryption key): clavis serve or clavis admin init sets it up',
    );
  }
  if (stored && !options.kek && !existsSync(file)) {
    throw new KekError(
      `this database was set up with a key-encryption key that is not here: set CLAVIS_KEK, or CLAVIS_KEK_FILE (looked for ${file})`,
    );
  }
  const ring = KekRing.load({ env: options.kek, previousEnv: options.kekPrevious, file });
  if (!stored) {
    await db
      .insertInto('settings')
      .values({ key: 'kek_check', value: ring.current.checkValue() })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
  }
  const check = await setting('kek_check');
  const inUse = check ? ring.matching(check.value) : undefined;
  if (!inUse) {
    throw new KekError(
      `the key-encryption key from ${ring.source} is not the one this database was set up with${ring.previous.length ? ', nor is any previous one given' : ''}`,
    );
  }
  const wrapped = await setting(WRAPPED_KEYS_SETTING);
  const stable = wrapped ? unwrapStableKeys(ring.all(), wrapped.value).keys : deriveStableKeys(inUse);
  return { ring, inUse, stable };
}

/** The same purpose's key of every configured KEK, the one in use first. */
function openKeys(
  ring: KekRing,
  inUse: Kek,
  purpose: 'signing-key-sealing' | 'totp-sealing' | 'idp-sealing',
): Buffer[] {
  return [inUse, ...ring.all().filter((k) => k !== inUse)].map((k) => k.derive(purpose));
}

export async function openServices(options: ServicesOptions): Promise<Services> {
  const clock = options.clock ?? Date.now;
  // A malformed CLAVIS_KEK is refused before anything is opened (or created).
  if (options.kek) Kek.fromString(options.kek);
  const opened = await openDatabase(options.dbUrl, {
    poolSize: options.poolSize ?? 10,
    ...(options.create === false ? { create: false } : {}),
    ...(options.listenForChanges ? { listenForChanges: options.listenForChanges } : {}),
    ...(options.backgroundCheckpoints ? { backgroundCheckpoints: options.backgroundCheckpoints } : {}),
  });
  try {
    const { ring, inUse: kek, stable } = await loadKek(opened.db, options);
    const hashing = hashingKeyring(stable);
    const hasher = new SecretHasher(hashing.current, hashing.older);
    const sealing = openKeys(ring, kek, 'signing-key-sealing');
    const keys = new KeyStore(
      opened.db,
      { seal: sealing[0] as Buffer, open: sealing },
      {
        alg: options.signingAlg ?? 'EdDSA',
        rotationIntervalMs: (options.keyRotationIntervalSeconds ?? 30 * 86_400) * 1000,
        maxTokenTtlMs: (options.maxAccessTokenTtlSeconds ?? 3600) * 1000,
        clock,
        ...(options.logger ? { logger: options.logger } : {}),
      },
    );
    const auditKey = createSecretKey(stable.auditChain);
    const totpOpenKeys = openKeys(ring, kek, 'totp-sealing');
    const idpOpenKeys = openKeys(ring, kek, 'idp-sealing');
    const auditSigning = options.auditKeyFile ? loadAuditSigningKey(options.auditKeyFile) : undefined;
    const audit = await AuditLog.open(opened.db, {
      clock,
      writer: options.writer,
      key: auditKey,
      signer: auditSigning?.privateKey,
      leaseMs: options.auditLeaseMs,
    });
    return {
      db: opened.db,
      dialect: opened.dialect,
      dbDescription: opened.description,
      changes: opened.changes,
      hasher,
      keys,
      audit,
      kek,
      kekRing: ring,
      kekSource: ring.source,
      kekRotationPending: kek !== ring.current,
      stableKeys: stable,
      auditKey,
      auditSigning,
      totpKey: totpOpenKeys[0] as Buffer,
      totpOpenKeys,
      idpKeys: { seal: idpOpenKeys[0] as Buffer, open: idpOpenKeys },
      clock,
      async close() {
        try {
          await audit.close();
        } finally {
          await opened.close();
        }
      },
    };
  } catch (err) {
    await opened.close();
    throw err;
  }
}
