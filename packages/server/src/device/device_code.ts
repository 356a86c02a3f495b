/**
 * Device codes (RFC 8628 §3.2): the request's id, a dot, then 256 random bits — `dev_….<43 characters>`.
 * A poll finds its request by the id (the primary key, whose new entries go at the end of its index) and
 * then checks the keyed hash of the whole code in constant time, so the table needs no index on the hash:
 * such an index, random by nature, cost each new request a scattered page write. The id is not secret
 * (it is in the audit record); the random part is, and the stored hash binds it to that id.
 */
import { randomToken, timeOrderedId } from '../crypto/secrets.js';

const ID_PREFIX = 'dev_';
/** `dev_`, the creation time as 12 hex digits, 12 random bytes as 16 base64url characters. */
const ID_PATTERN = /^dev_[0-9a-f]{12}[A-Za-z0-9_-]{16}$/;
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A new request's id (sorts by `now`) and its device code. */
export function newDeviceCode(now: number): { id: string; deviceCode: string } {
  const id = timeOrderedId(ID_PREFIX, now);
  return { id, deviceCode: `${id}.${randomToken(32)}` };
}

/** The request id a presented device code names, or undefined if it is not shaped like one of ours. */
export function deviceRequestIdOf(deviceCode: string): string | undefined {
  const dot = deviceCode.indexOf('.');
  if (dot < 0) return undefined;
  const id = deviceCode.slice(0, dot);
  return ID_PATTERN.test(id) && SECRET_PATTERN.test(deviceCode.slice(dot + 1)) ? id : undefined;
}
