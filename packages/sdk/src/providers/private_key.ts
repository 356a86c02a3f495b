/**
 * A service principal's own token: client credentials authenticated with `private_key_jwt` (RFC 7523
 * §2.2). `CLAVIS_CLIENT_ID` names the client; `CLAVIS_PRIVATE_KEY` (the key itself) or
 * `CLAVIS_PRIVATE_KEY_FILE` (a path) holds a PKCS#8 PEM or a private JWK. The assertion has
 * `iss` = `sub` = the client id, `aud` = the issuer (the one value every server mode accepts), a random
 * `jti` and a one-minute `exp`; its header carries the JWK's `kid` (or `CLAVIS_PRIVATE_KEY_ID`).
 */
import { createPrivateKey, type JsonWebKey, type KeyObject, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, formatScope, GrantType } from '@clavis/core';
import { type JWK, SignJWT } from 'jose';
import { ClavisError } from '../errors.js';
import { postForm, tokenResponse } from '../http.js';
import { tokenFromResponse } from '../token.js';
import type { CredentialProvider } from './provider.js';

/** A loaded signing key with the algorithm its type calls for. */
export interface SigningKey {
  key: KeyObject;
  alg: string;
  kid?: string;
}

const invalid = (why: string, cause?: unknown): ClavisError =>
  new ClavisError('invalid_private_key', `the private key ${why}`, { cause });

function algorithmOf(key: KeyObject, jwkAlg: unknown): string {
  if (typeof jwkAlg === 'string' && jwkAlg) return jwkAlg;
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return 'EdDSA';
    case 'ec':
      if (details?.namedCurve === 'prime256v1') return 'ES256';
      if (details?.namedCurve === 'secp384r1') return 'ES384';
      if (details?.namedCurve === 'secp521r1') return 'ES512';
      throw invalid(`uses an unsupported curve`);
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    default:
      throw invalid(`has an unsupported type`);
  }
}

/**
 * Reads a PKCS#8 PEM or a private JWK (JSON) into a signing key.
 *
 * @example
 * ```ts
 * const key = parsePrivateKey(readFileSync('deployer.key', 'utf8'));
 * ```
 */
export function parsePrivateKey(text: string, kid?: string): SigningKey {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let jwk: JWK;
    try {
      jwk = JSON.parse(trimmed) as JWK;
    } catch (err) {
      throw invalid('is neither a PEM nor a JSON Web Key', err);
    }
    if (typeof jwk.d !== 'string') throw invalid('is a public JWK (it has no "d")');
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch (err) {
      throw invalid('is not a usable JSON Web Key', err);
    }
    const id = kid ?? (typeof jwk.kid === 'string' ? jwk.kid : undefined);
    return { key, alg: algorithmOf(key, jwk.alg), ...(id ? { kid: id } : {}) };
  }
  if (!trimmed.startsWith('-----BEGIN PRIVATE KEY-----')) {
    throw invalid('must be a PKCS#8 PEM (BEGIN PRIVATE KEY) or a JSON Web Key');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: trimmed, format: 'pem' });
  } catch (err) {
    throw invalid('is not a readable PKCS#8 PEM', err);
  }
  return { key, alg: algorithmOf(key, undefined), ...(kid ? { kid } : {}) };
}

/**
 * Signs a `private_key_jwt` client assertion.
 *
 * @example
 * ```ts
 * const assertion = await clientAssertion(key, 'svc_123', 'https://clavis.example.com', Date.now());
 * ```
 */
export function clientAssertion(
  signing: SigningKey,
  clientId: string,
  audience: string,
  now: number,
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: signing.alg, typ: 'JWT', ...(signing.kid ? { kid: signing.kid } : {}) })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .sign(signing.key);
}

export const fromPrivateKey: CredentialProvider = async (deps) => {
  const { env } = deps;
  const clientId = env.CLAVIS_CLIENT_ID;
  if (!clientId || !(env.CLAVIS_PRIVATE_KEY || env.CLAVIS_PRIVATE_KEY_FILE)) return undefined;
  let text = env.CLAVIS_PRIVATE_KEY;
  if (!text) {
    try {
      text = await readFile(env.CLAVIS_PRIVATE_KEY_FILE as string, 'utf8');
    } catch (err) {
      throw invalid('file CLAVIS_PRIVATE_KEY_FILE cannot be read', err);
    }
  }
  const signing = parsePrivateKey(text, env.CLAVIS_PRIVATE_KEY_ID || undefined);
  const metadata = await deps.metadata();
  const result = await postForm(deps.http, metadata.token_endpoint, {
    grant_type: GrantType.ClientCredentials,
    client_id: clientId,
    client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
    client_assertion: await clientAssertion(signing, clientId, deps.issuer, deps.now()),
    scope: deps.scopes.length > 0 ? formatScope(deps.scopes) : undefined,
  });
  return tokenFromResponse(tokenResponse(result), 'private_key', deps.now());
};
