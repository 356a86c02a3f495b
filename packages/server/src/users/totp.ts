/** TOTP second factors (RFC 6238 via `otpauth`): SHA-1, 6 digits, 30-second steps, ±1 step of drift. */
import { Secret, TOTP } from 'otpauth';

const PERIOD = 30;
const DIGITS = 6;

function totpFor(secretBase32: string, label = 'clavis', issuer = 'Clavis'): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: DIGITS,
    period: PERIOD,
    secret: Secret.fromBase32(secretBase32),
  });
}

/** A fresh 160-bit secret, base32. */
export function generateTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://` URI authenticator apps import. */
export function totpUri(secretBase32: string, username: string, issuer: string): string {
  return totpFor(secretBase32, username, issuer).toString();
}

/**
 * The time step `code` belongs to, if it is valid at `now` within ±1 step; null otherwise. The caller
 * must still spend the step (`acceptTotpStep`) so the code works only once.
 */
export function matchTotp(secretBase32: string, code: string, now: number): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const totp = totpFor(secretBase32);
  const delta = totp.validate({ token: code, timestamp: now, window: 1 });
  if (delta === null) return null;
  return totp.counter({ timestamp: now }) + delta;
}
