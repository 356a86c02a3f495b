/**
 * The key-encryption key (KEK): 32 random bytes from `CLAVIS_KEK` (base64 or base64url) or from a key
 * file created on first start with mode 0600. Every other server secret is derived from it with HKDF,
 * one purpose each, so no two uses share a key.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';

export class KekError extends Error {
  override name = 'KekError';
}

type KekPurpose =
  | 'secret-hashing'
  | 'signing-key-sealing'
  | 'cookie-signing'
  | 'audit-chain'
  | 'totp-sealing'
  | 'audit-subjects';

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
    return { kek: Kek.fromString(readFileSync(options.file, 'utf8')), source: options.file, created: false };
  }

  /** A 32-byte key for one purpose. */
  derive(purpose: KekPurpose): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#key, Buffer.alloc(0), `clavis:${purpose}`, 32));
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
