/**
 * The git credential helper protocol (`git help credential`, INPUT/OUTPUT FORMAT): git writes `key=value`
 * lines ending at a blank line or end of input; for `get` the helper answers with the attributes it
 * fills in. Clavis answers only for https hosts the user configured for it, and keeps nothing git offers
 * to `store` or asks to `erase`: its tokens live in its own store.
 */
import { CredentialHelperError } from './errors.js';

/** What git asks about. Attributes Clavis has no use for are dropped, as git itself does with unknown ones. */
export interface GitCredentialRequest {
  protocol?: string;
  /** Host name with the port when one was given, e.g. `git.example.com:8443`. */
  host?: string;
  path?: string;
  username?: string;
  password?: string;
  /** `wwwauth[]`: the server's WWW-Authenticate challenges, in order. */
  wwwauth: string[];
  /** `capability[]`: what the caller understands (e.g. `authtype`, `state`). */
  capability: string[];
}

/** A host the user configured for Clavis, and the username git should send with the token. */
export interface GitHostConfig {
  host: string;
  username: string;
}

export interface GitCredential {
  username: string;
  password: string;
  /** When the password stops working; git (2.41+) then does not use it past that time. */
  expiresAt?: Date;
}

const multiValued = { 'wwwauth[]': 'wwwauth', 'capability[]': 'capability' } as const;

/**
 * Parses what git writes to a helper. Reading stops at the first blank line. A line without `=` or with a
 * NUL byte is refused, as git refuses it; a `url=` line stands for its parts, replacing earlier ones.
 */
export function parseGitCredentialRequest(input: string): GitCredentialRequest {
  const request: GitCredentialRequest = { wwwauth: [], capability: [] };
  const lines = input.split('\n');
  for (const [index, raw] of lines.entries()) {
    if (index === lines.length - 1 && raw === '') break; // the final newline's empty remainder
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') break;
    if (line.includes('\0'))
      throw new CredentialHelperError('nul_byte', `line ${index + 1} contains a NUL byte`);
    const equals = line.indexOf('=');
    if (equals <= 0) throw new CredentialHelperError('malformed_line', `line ${index + 1} is not key=value`);
    const key = line.slice(0, equals);
    const value = line.slice(equals + 1);
    if (key in multiValued) {
      const list = request[multiValued[key as keyof typeof multiValued]];
      if (value === '')
        list.length = 0; // an empty value resets the list
      else list.push(value);
    } else if (key === 'url') {
      Object.assign(request, credentialFromUrl(value, index + 1));
    } else if (
      key === 'protocol' ||
      key === 'host' ||
      key === 'path' ||
      key === 'username' ||
      key === 'password'
    ) {
      request[key] = value;
    }
  }
  return request;
}

function credentialFromUrl(value: string, line: number): Partial<GitCredentialRequest> {
  try {
    const url = new URL(value);
    const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
    return {
      protocol: url.protocol.replace(/:$/, ''),
      host: url.host,
      path: path === '' ? undefined : path,
      username: url.username === '' ? undefined : decodeURIComponent(url.username),
      password: undefined,
    };
  } catch (cause) {
    throw new CredentialHelperError('invalid_url', `line ${line} has a url= that is not a URL`, { cause });
  }
}

/**
 * The configured host REQUEST is for, if any: https only (a token is never offered over plain http), the
 * host compared without case and with its port, and no other username asked for than the configured one.
 */
export function matchGitHost(
  request: GitCredentialRequest,
  hosts: readonly GitHostConfig[],
): GitHostConfig | undefined {
  if (request.protocol !== 'https' || !request.host) return undefined;
  const host = request.host.toLowerCase();
  const match = hosts.find((candidate) => candidate.host.toLowerCase() === host);
  if (!match) return undefined;
  if (request.username !== undefined && request.username !== match.username) return undefined;
  return match;
}

/** The answer to `get`: `username=` and `password=` lines, and `password_expiry_utc=` when known. */
export function formatGitCredential(credential: GitCredential): string {
  for (const [name, value] of [
    ['username', credential.username],
    ['password', credential.password],
  ] as const) {
    if (value === '' || /[\n\0]/.test(value)) {
      throw new CredentialHelperError('invalid_value', `${name} is empty or holds a newline or NUL`);
    }
  }
  let text = `username=${credential.username}\npassword=${credential.password}\n`;
  if (credential.expiresAt)
    text += `password_expiry_utc=${Math.floor(credential.expiresAt.getTime() / 1000)}\n`;
  return text;
}

export interface GitHelperDeps {
  hosts: readonly GitHostConfig[];
  /** The token for HOST, or undefined when there is none (not logged in). */
  getToken(host: GitHostConfig): Promise<{ token: string; expiresAt?: Date } | undefined>;
}

/**
 * Runs one helper ACTION on INPUT and returns what to write to stdout: for `get` on a configured host with
 * a token, the credential; otherwise nothing, so git goes on to its next helper or prompt. `store`,
 * `erase` and actions git may add later are ignored, as the protocol asks.
 */
export async function answerGitCredential(
  action: string,
  input: string,
  deps: GitHelperDeps,
): Promise<string> {
  if (action !== 'get') return '';
  const host = matchGitHost(parseGitCredentialRequest(input), deps.hosts);
  if (!host) return '';
  const token = await deps.getToken(host);
  if (!token) return '';
  return formatGitCredential({ username: host.username, password: token.token, expiresAt: token.expiresAt });
}
