/**
 * A WebAuthn authenticator in software (ES256, attestation `none`), for in-process tests that need
 * answers a browser would never send: another origin, another RP ID, no user verification, a counter
 * that goes back. It builds the authenticator data, the CBOR attestation object and the signature as
 * WebAuthn §6.1 and §6.5 lay them out; the server checks them with `@simplewebauthn/server`.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor> | { [key: string]: Cbor };

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  const b = Buffer.alloc(3);
  b[0] = (major << 5) | 25;
  b.writeUInt16BE(n, 1);
  return b;
}

/** Just enough CBOR (RFC 8949) for attestation objects and COSE keys. */
function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/** Where and how the authenticator answers: by default as a browser on `origin` would. */
export interface Answer {
  challenge: string;
  origin: string;
  rpId: string;
  /** User verification done (default true). */
  userVerified?: boolean;
  /** The counter to sign with (default: one more than the last). */
  signCount?: number;
  /** `webauthn.create` / `webauthn.get` (default: the ceremony's own). */
  type?: string;
}

export class SoftwareAuthenticator {
  readonly credentialId = randomBytes(16);
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  signCount = 0;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#privateKey = privateKey;
    this.#publicKey = publicKey;
  }

  get id(): string {
    return b64(this.credentialId);
  }

  #authData(a: Answer, count: number, attested: boolean): Buffer {
    const flags = 0x01 | (a.userVerified === false ? 0 : 0x04) | (attested ? 0x40 : 0);
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(count);
    const parts: Uint8Array[] = [sha256(a.rpId), Buffer.from([flags]), counter];
    if (attested) {
      const jwk = this.#publicKey.export({ format: 'jwk' });
      const cose = cbor(
        new Map<Cbor, Cbor>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, Buffer.from(jwk.x ?? '', 'base64url')],
          [-3, Buffer.from(jwk.y ?? '', 'base64url')],
        ]),
      );
      const length = Buffer.alloc(2);
      length.writeUInt16BE(this.credentialId.length);
      parts.push(Buffer.alloc(16), length, this.credentialId, cose);
    }
    return Buffer.concat(parts);
  }

  #clientData(a: Answer, type: string): Buffer {
    return Buffer.from(
      JSON.stringify({ type: a.type ?? type, challenge: a.challenge, origin: a.origin, crossOrigin: false }),
    );
  }

  /** The browser's JSON answer to `navigator.credentials.create`. */
  register(a: Answer): string {
    const authData = this.#authData(a, this.signCount, true);
    return JSON.stringify({
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64(this.#clientData(a, 'webauthn.create')),
        attestationObject: b64(cbor({ fmt: 'none', attStmt: {}, authData })),
        transports: ['usb'],
      },
      clientExtensionResults: {},
    });
  }

  /** The browser's JSON answer to `navigator.credentials.get`. */
  assert(a: Answer): string {
    const count = a.signCount ?? this.signCount + 1;
    if (count > this.signCount) this.signCount = count;
    const authData = this.#authData(a, count, false);
    const clientData = this.#clientData(a, 'webauthn.get');
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), this.#privateKey);
    return JSON.stringify({
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64(clientData),
        authenticatorData: b64(authData),
        signature: b64(signature),
      },
      clientExtensionResults: {},
    });
  }
}

/** The WebAuthn options a page carries in its form's `data-options` attribute. */
export function webauthnOptionsOf(body: string): { challenge: string; rpId?: string; rp?: { id: string } } {
  const attr = /data-options="([^"]*)"/.exec(body)?.[1];
  if (attr === undefined) throw new Error('no WebAuthn form on this page');
  const text = attr
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&#96;', '`')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
  return JSON.parse(text) as { challenge: string };
}
