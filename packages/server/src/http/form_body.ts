/**
 * `application/x-www-form-urlencoded` bodies for the OAuth endpoints (RFC 6749 §3.2, Appendix B):
 * a parameter sent twice is an error, a parameter with an empty value counts as absent (§3.1). No
 * parameter may hold a NUL character: no OAuth value has one, and PostgreSQL refuses it in text.
 */
import { InvalidRequest } from '@clavis/core';

/** Parsed form parameters: a null-prototype record, so `__proto__` is just a name. */
export type FormParams = Readonly<Record<string, string>>;

const MAX_PARAMS = 64;

export function parseForm(body: string): FormParams {
  const params: Record<string, string> = Object.create(null);
  const seen = new Set<string>();
  let count = 0;
  for (const [name, value] of new URLSearchParams(body)) {
    if (++count > MAX_PARAMS) throw new InvalidRequest('too many parameters');
    if (name.includes('\0') || value.includes('\0')) {
      throw new InvalidRequest('parameters may not contain NUL characters');
    }
    if (seen.has(name)) throw new InvalidRequest(`parameter "${name.slice(0, 40)}" is repeated`);
    seen.add(name);
    if (value !== '') params[name] = value;
  }
  return params;
}

/** A parameter that must be present. */
export function requireParam(params: FormParams, name: string): string {
  const value = params[name];
  if (value === undefined) throw new InvalidRequest(`missing parameter "${name}"`);
  return value;
}
