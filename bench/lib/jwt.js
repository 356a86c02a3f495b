// Minimal Ed25519 JWT helpers on node:crypto (the client side of private_key_jwt, and the bare server).
import { createPrivateKey, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';

const b64u = (value) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A fresh Ed25519 key pair as JWKs (alg EdDSA) plus the private KeyObject. */
export function generateEd25519(kid = randomUUID()) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' };
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' };
  return { privateKey, publicJwk, privateJwk, kid };
}

export function keyFromJwk(jwk) {
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

/** Signs a compact EdDSA JWS over `payload`. */
export function signJwt(payload, privateKey, { kid, typ = 'JWT' } = {}) {
  const header = { alg: 'EdDSA', typ, ...(kid ? { kid } : {}) };
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
}

/** Decodes a compact JWS (no verification). Returns null if it is not one. */
export function decodeJwt(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0], 'base64url')),
      payload: JSON.parse(Buffer.from(parts[1], 'base64url')),
    };
  } catch {
    return null;
  }
}

/** One private_key_jwt client assertion (RFC 7523) with a unique jti. */
export function clientAssertion({ clientId, audience, privateKey, kid, lifetime = 240 }) {
  const now = Math.floor(Date.now() / 1000);
  return signJwt(
    {
      iss: clientId,
      sub: clientId,
      aud: audience,
      iat: now,
      exp: now + lifetime,
      jti: randomBytes(16).toString('base64url'),
    },
    privateKey,
    { kid },
  );
}

/**
 * A pool of pre-signed client assertions so that signing cost stays out of the measured
 * client loop. When the pool runs dry, assertions are signed on demand (and counted).
 */
export class SignedPool {
  /** `make()` signs one item. */
  constructor(make) {
    this.make = make;
    this.items = [];
    this.next = 0;
    this.signedOnDemand = 0;
  }

  fill(count) {
    const started = performance.now();
    this.items = new Array(count);
    for (let i = 0; i < count; i++) this.items[i] = this.make();
    this.next = 0;
    this.signedOnDemand = 0;
    return performance.now() - started;
  }

  take() {
    if (this.next < this.items.length) {
      const a = this.items[this.next];
      this.items[this.next++] = undefined;
      return a;
    }
    this.signedOnDemand++;
    return this.make();
  }
}

export class AssertionPool extends SignedPool {
  constructor(opts) {
    super(() => clientAssertion(opts));
  }
}

/**
 * A CI workload's OIDC token shaped like GitHub Actions' (RFC 7519, unique `jti`), signed with the
 * bench issuer's Ed25519 key.
 */
export function githubActionsToken({ issuer, audience, repository, ref, privateKey, kid, lifetime = 300 }) {
  const now = Math.floor(Date.now() / 1000);
  const runId = String(1_000_000 + Math.floor(Math.random() * 1_000_000));
  return signJwt(
    {
      iss: issuer,
      aud: audience,
      sub: `repo:${repository}:ref:${ref}`,
      repository,
      repository_owner: repository.split('/')[0],
      ref,
      workflow: 'bench',
      run_id: runId,
      run_attempt: '1',
      iat: now,
      nbf: now - 5,
      exp: now + lifetime,
      jti: randomBytes(16).toString('base64url'),
    },
    privateKey,
    { kid },
  );
}
