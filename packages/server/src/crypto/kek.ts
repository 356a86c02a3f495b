/**
 * The key-encryption key (KEK): 32 random bytes from `CLAVIS_KEK` (base64 or base64url) or from a key
 * file created on first start with mode 0600. Every other server secret is derived from it with HKDF,
 * one purpose each, so no two uses share a key.
 *
 * KEKs are versioned for rotation: besides the current one, previous ones may be given — in
 * `CLAVIS_KEK_PREVIOUS` (comma-separated, newest first) beside `CLAVIS_KEK`, or as further lines of the
 * key file (first line current, then the previous ones, newest first; blank lines and `#` comments are
 * ignored). A previous KEK only opens what was sealed under it until `clavis admin kek rotate` has
 * re-sealed everything under the current one.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';

export class KekError extends Error {
  override name = 'KekError';
}

type KekPurpose =
  | 'secret-hashing'
  | 'signing-key-sealing'
  | 'cookie-signing'
  | 'audit-chain'
  | 'totp-sealing'
  | 'idp-sealing'
  | 'audit-subjects'
  | 'key-wrapping'
  | 'idempotency-sealing';

export class Kek {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  static fromBytes(key: Buffer): Kek {
    if (key.length !== 32) throw new KekError('the key-encryption key must be 32 bytes');
    return new Kek(Buffer.from(key));
  }

  /** Parses a base64 or base64url encoding of 32 bytes. */
  static fromString(text: string): Kek {
    const trimmed = text.trim();
    if (!/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(trimmed)) {
      throw new KekError(
        'CLAVIS_KEK must be 32 bytes in base64 or base64url (generate: openssl rand -base64 32)',
      );
    }
    return Kek.fromBytes(
      Buffer.from(trimmed.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url'),
    );
  }

  /**
   * The KEK from `env` if set, else from `file`, creating the file (0600) with a fresh key when it does
   * not exist. Refuses a key file readable by group or others.
   */
  static load(options: { env?: string | undefined; file: string }): {
    kek: Kek;
    source: string;
    created: boolean;
  } {
    if (options.env) return { kek: Kek.fromString(options.env), source: 'CLAVIS_KEK', created: false };
    if (!existsSync(options.file)) {
      try {
        writeFileSync(options.file, `${randomBytes(32).toString('base64url')}\n`, {
          mode: 0o600,
          flag: 'wx',
        });
        chmodSync(options.file, 0o600);
        return {
          kek: Kek.fromString(readFileSync(options.file, 'utf8')),
          source: options.file,
          created: true,
        };
      } catch (err) {
        // Another process created it first: use theirs.
        if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
      }
    }
    const mode = statSync(options.file).mode & 0o077;
    if (mode !== 0) throw new KekError(`key file ${options.file} must not be readable by others (chmod 600)`);
    const [current] = readKeyFile(options.file);
    if (!current) throw new KekError(`key file ${options.file} holds no key`);
    return { kek: current, source: options.file, created: false };
  }

  /** A 32-byte key for one purpose. */
  derive(purpose: KekPurpose): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#key, Buffer.alloc(0), `clavis:${purpose}`, 32));
  }

  /** A short non-secret name of this key, for messages and the audit log. */
  fingerprint(): string {
    return this.checkValue().slice(0, 12);
  }

  /** A non-secret fingerprint stored in the database, so a server started with the wrong KEK refuses. */
  checkValue(): string {
    return createHmac('sha256', this.#key).update('clavis:kek-check').digest('base64url');
  }

  matches(checkValue: string): boolean {
    const a = Buffer.from(this.checkValue());
    const b = Buffer.from(checkValue);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

/** The current KEK and the previous ones still accepted, and where they came from. */
export class KekRing {
  constructor(
    readonly current: Kek,
    readonly previous: readonly Kek[],
    readonly source: string,
    /** The key file was created just now. */
    readonly created: boolean,
  ) {}

  /** Current first, then the previous ones, newest first. */
  all(): Kek[] {
    return [this.current, ...this.previous];
  }

  /** The member whose check value is `checkValue`, if any. */
  matching(checkValue: string): Kek | undefined {
    return this.all().find((k) => k.matches(checkValue));
  }

  /**
   * From `env` (with `previousEnv`) if set, else from `file`, creating it (0600) with one fresh key when
   * it does not exist. Refuses a key file readable by group or others.
   */
  static load(options: {
    env?: string | undefined;
    previousEnv?: string | undefined;
    file: string;
  }): KekRing {
    if (options.env) {
      const previous = (options.previousEnv ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s, i) => {
          try {
            return Kek.fromString(s);
          } catch {
            throw new KekError(`CLAVIS_KEK_PREVIOUS: entry ${i + 1} is not 32 bytes in base64 or base64url`);
          }
        });
      return new KekRing(Kek.fromString(options.env), previous, 'CLAVIS_KEK', false);
    }
    const { kek, created } = Kek.load({ file: options.file });
    if (created) return new KekRing(kek, [], options.file, true);
    const [current, ...previous] = readKeyFile(options.file);
    return new KekRing(current ?? kek, previous, options.file, false);
  }
}

/** The keys of a key file, current first. */
function readKeyFile(file: string): Kek[] {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (lines.length === 0) throw new KekError(`key file ${file} holds no key`);
  return lines.map((l, i) => {
    try {
      return Kek.fromString(l);
    } catch {
      throw new KekError(`key file ${file}: key ${i + 1} is not 32 bytes in base64 or base64url`);
    }
  });
}

/**
 * Puts a fresh key first in the key file, keeping the others as previous (newest first): written to a
 * temporary file (0600) and renamed over the old one, so a crash leaves either file whole.
 */
export function prependNewKey(file: string): Kek {
  const existing = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const fresh = randomBytes(32).toString('base64url');
  const text = `# clavis key-encryption keys: the first is current, the others previous (newest first)\n${[fresh, ...existing].join('\n')}\n`;
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
  return Kek.fromString(fresh);
}
