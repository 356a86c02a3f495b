/**
 * The WebAuthn ceremonies (W3C Web Authentication Level 3) through `@simplewebauthn/server`: options for
 * registering a credential and for asserting with one, and the checks of the browser's answers — the
 * challenge (spent once), the origin and RP ID of this server, user verification required, the signature,
 * and the signature counter (§6.1.1: a counter that does not grow means a cloned authenticator).
 */
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { WebauthnCredentialRow } from '../storage/schema.js';

/** This server as a WebAuthn relying party: the issuer's host is the RP ID, its origin the only origin. */
export interface RelyingParty {
  id: string;
  name: string;
  origin: string;
}

export function relyingPartyOf(issuer: string, name: string): RelyingParty {
  const url = new URL(issuer);
  return { id: url.hostname, name, origin: url.origin };
}

const TIMEOUT_MS = 120_000;
/** The transports a browser may report; anything else is dropped before storage. */
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

function transportsOf(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((t): t is string => typeof t === 'string' && TRANSPORTS.has(t)).slice(0, 8)
    : [];
}

/** Parses a browser's JSON answer: a public-key credential object, or null. */
function credentialJson(text: string): Record<string, unknown> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const c = parsed as Record<string, unknown>;
  if (typeof c.id !== 'string' || typeof c.rawId !== 'string' || c.type !== 'public-key') return null;
  if (!c.response || typeof c.response !== 'object') return null;
  if (c.id.length === 0 || c.id.length > 1366) return null; // credential ids are at most 1023 bytes
  return c;
}

/** Options for `navigator.credentials.create`: user verification required, no duplicate credentials. */
export function registrationOptions(
  rp: RelyingParty,
  user: { id: string; username: string },
  existing: readonly WebauthnCredentialRow[],
  challenge: string,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.username,
    userID: new TextEncoder().encode(user.id),
    challenge: Buffer.from(challenge, 'base64url'),
    timeout: TIMEOUT_MS,
    attestationType: 'none',
    excludeCredentials: existing.map((c) => ({ id: c.id, transports: JSON.parse(c.transports) as string[] })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
  });
}

export interface RegisteredCredential {
  id: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
}

/**
 * Why a ceremony failed: `challenge` — the client data was refused before the challenge was spent (a
 * replayed or stale challenge, or the wrong ceremony type); `verification_failed` — origin, RP ID,
 * user verification or signature.
 */
export type CeremonyFailure =
  | 'malformed'
  | 'challenge'
  | 'unknown_credential'
  | 'verification_failed'
  | 'user_not_verified';

/**
 * Checks a registration answer. `spend(challenge)` must spend the session's pending challenge and say
 * whether it was that one (single use).
 */
export async function verifyRegistration(
  rp: RelyingParty,
  answer: string,
  spend: (challenge: string) => Promise<boolean>,
): Promise<{ ok: true; credential: RegisteredCredential } | { ok: false; reason: CeremonyFailure }> {
  const json = credentialJson(answer);
  if (!json) return { ok: false, reason: 'malformed' };
  let spent = false;
  try {
    const result = await verifyRegistrationResponse({
      response: json as unknown as RegistrationResponseJSON,
      expectedChallenge: async (c) => (spent = await spend(c)),
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
    });
    if (!result.verified) return { ok: false, reason: 'verification_failed' };
    const info = result.registrationInfo;
    if (!info.userVerified) return { ok: false, reason: 'user_not_verified' };
    const response = json.response as Record<string, unknown>;
    return {
      ok: true,
      credential: {
        id: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        transports: transportsOf(response.transports),
        deviceType: info.credentialDeviceType,
      },
    };
  } catch {
    return { ok: false, reason: spent ? 'verification_failed' : 'challenge' };
  }
}

/** Options for `navigator.credentials.get` over the person's usable credentials. */
export function assertionOptions(
  rp: RelyingParty,
  credentials: readonly WebauthnCredentialRow[],
  challenge: string,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.id,
    challenge: Buffer.from(challenge, 'base64url'),
    timeout: TIMEOUT_MS,
    userVerification: 'required',
    allowCredentials: credentials.map((c) => ({
      id: c.id,
      transports: JSON.parse(c.transports) as string[],
    })),
  });
}

/** The credential id an assertion answer names, or null when the answer is not one. */
export function assertionCredentialId(answer: string): string | null {
  const json = credentialJson(answer);
  return json ? (json.id as string) : null;
}

export type AssertionResult =
  | { ok: true; counter: number; deviceType: 'singleDevice' | 'multiDevice' }
  /** Signed by the credential, but its counter did not grow: a cloned authenticator (or a replay). */
  | { ok: false; reason: 'counter_regression'; counter: number }
  | { ok: false; reason: CeremonyFailure };

/**
 * Checks an assertion answer against the stored credential. The counter is compared here, after the
 * signature verified, so that only the credential's holder can trip the clone detection.
 */
export async function verifyAssertion(
  rp: RelyingParty,
  answer: string,
  stored: WebauthnCredentialRow,
  spend: (challenge: string) => Promise<boolean>,
): Promise<AssertionResult> {
  const json = credentialJson(answer);
  if (!json || json.id !== stored.id) return { ok: false, reason: 'malformed' };
  let spent = false;
  let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    result = await verifyAuthenticationResponse({
      response: json as unknown as AuthenticationResponseJSON,
      expectedChallenge: async (c) => (spent = await spend(c)),
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      // The library's own counter check throws; ours, below, tells a clone from a bad signature.
      credential: {
        id: stored.id,
        publicKey: Buffer.from(stored.public_key, 'base64url'),
        counter: 0,
        transports: JSON.parse(stored.transports) as string[],
      },
      requireUserVerification: true,
    });
  } catch {
    return { ok: false, reason: spent ? 'verification_failed' : 'challenge' };
  }
  if (!result.verified) return { ok: false, reason: 'verification_failed' };
  const info = result.authenticationInfo;
  if (!info.userVerified) return { ok: false, reason: 'user_not_verified' };
  const previous = Number(stored.counter);
  if ((info.newCounter > 0 || previous > 0) && info.newCounter <= previous) {
    return { ok: false, reason: 'counter_regression', counter: info.newCounter };
  }
  return { ok: true, counter: info.newCounter, deviceType: info.credentialDeviceType };
}

/** RFC 8176 methods for a passed WebAuthn assertion: `hwk` for a device-bound key, `swk` for a synced one. */
export function passkeyMethod(deviceType: string): 'hwk' | 'swk' {
  return deviceType === 'multiDevice' ? 'swk' : 'hwk';
}
