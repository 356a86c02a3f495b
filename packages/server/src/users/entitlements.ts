/**
 * What a person may hold in a token, whatever the client's ceiling allows (least privilege, RFC 9700
 * §2.3). Three rules:
 * - `admin` only for an administrator (`users.is_admin`), and only when the approval passed a second
 *   factor (TOTP verified in the session);
 * - the person's own ceiling (`users.scopes`, set with `users create --scope`) caps every other scope
 *   when it is set; `openid` and `profile` (about the person themselves) and `keys:mint` (whose keys
 *   that same ceiling caps) are outside it;
 * - a device request that names no scope asks for `openid profile` (within the client's ceiling), never
 *   the client's whole ceiling.
 * Applied when the person approves, again when the code is redeemed and at every refresh, so a person
 * who lost a scope loses it from their next token (the family narrows for good; it never widens).
 */
import { KEYS_MINT_SCOPE } from '@clavis/core';

const ADMIN_SCOPE = 'admin';

/** A device request without `scope` asks for these (those the client may grant). */
const DEFAULT_PERSON_SCOPES: readonly string[] = ['openid', 'profile'];

/** Scopes the person's own ceiling does not cap. */
const OUTSIDE_CEILING = new Set(['openid', 'profile', KEYS_MINT_SCOPE]);

/** The columns of `users` the rules read. */
export interface PersonEntitlement {
  is_admin: number;
  scopes?: string | null | undefined;
}

/** The scopes a request without `scope` asks for on behalf of a person. */
export function defaultPersonScopes(clientCeiling: readonly string[]): string[] {
  return DEFAULT_PERSON_SCOPES.filter((s) => clientCeiling.includes(s));
}

/**
 * The part of `scopes` the person is entitled to. `mfa`: whether the approval passed a second factor
 * (at redemption and refresh, the scopes were already filtered at approval: pass true).
 */
export function entitledScopes(
  scopes: readonly string[],
  person: PersonEntitlement,
  options: { mfa: boolean },
): string[] {
  const ceiling = person.scopes ? (JSON.parse(person.scopes) as string[]) : null;
  return scopes.filter((s) => {
    if (s === ADMIN_SCOPE) return Number(person.is_admin) === 1 && options.mfa;
    return ceiling === null || OUTSIDE_CEILING.has(s) || ceiling.includes(s);
  });
}
