/**
 * OAuth scope strings (RFC 6749 §3.3): space-delimited tokens of %x21 / %x23-5B / %x5D-7E.
 */

/**
 * The scope that lets an access token mint API keys at this server. Granted only when asked for by name,
 * and never carried by a key.
 */
export const KEYS_MINT_SCOPE = 'keys:mint';

/** OpenID Connect: the token is about a person, who gets an ID token and may ask `userinfo` who they are. */
export const OPENID_SCOPE = 'openid';

/** OpenID Connect: the person's profile claims (`preferred_username`) in the ID token and at `userinfo`. */
export const PROFILE_SCOPE = 'profile';

const scopeToken = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;

/** True when `token` is one well-formed scope token. */
export function isScopeToken(token: string): boolean {
  return scopeToken.test(token);
}

/**
 * Splits a scope parameter into its distinct tokens, in order. Returns `null` when the string is not a
 * well-formed scope (a control character, a quote, a backslash, doubled or edge spaces).
 */
export function parseScope(value: string): string[] | null {
  if (value === '') return [];
  const tokens = value.split(' ');
  for (const t of tokens) if (!isScopeToken(t)) return null;
  return [...new Set(tokens)];
}

export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}
