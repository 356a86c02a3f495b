/**
 * Compact JWS signing and verification with node:crypto KeyObjects: the hot path of every token
 * response and introspection, kept synchronous and allocation-light. `jose` handles everything that
 * comes from outside (client assertions, JWKS import); this handles only tokens we sign ourselves.
 */
import { type KeyObject, sign, verify } from 'node:crypto';

export type SigningAlg = 'EdDSA' | 'ES256' | 'RS256';
export const signingAlgs: readonly SigningAlg[] = ['EdDSA', 'ES256', 'RS256'];

function signatureOptions(alg: SigningAlg, key: KeyObject) {
  switch (alg) {
    case 'EdDSA':
      return { digest: null, key };
    case 'ES256':
      return { digest: 'sha256', key: { key, dsaEncoding: 'ieee-p1363' as const } };
    case 'RS256':
      return { digest: 'sha256', key };
  }
}

export function signCompact(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  alg: SigningAlg,
  key: KeyObject,
): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const { digest, key: k } = signatureOptions(alg, key);
  return `${input}.${sign(digest, Buffer.from(input), k).toString('base64url')}`;
}

const segment = /^[A-Za-z0-9_-]+$/;

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

/** Splits and parses a compact JWS without verifying it. Returns null when it is not well-formed. */
export function decodeCompact(token: string, maxLength = 8192): DecodedJws | null {
  if (token.length > maxLength) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  if (!segment.test(h) || !segment.test(p) || !segment.test(s)) return null;
  try {
    const header: unknown = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    const payload: unknown = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    if (!isObject(header) || !isObject(payload)) return null;
    return { header, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
  } catch {
    return null;
  }
}

export function verifySignature(decoded: DecodedJws, alg: SigningAlg, key: KeyObject): boolean {
  const { digest, key: k } = signatureOptions(alg, key);
  try {
    return verify(digest, Buffer.from(decoded.signingInput), k, decoded.signature);
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
