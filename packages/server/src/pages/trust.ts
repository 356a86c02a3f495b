/**
 * What lets a cautious person trust a verification page: which server or organisation this is (a name
 * and a logo served by this server itself, so the CSP stays `img-src 'self'`), scopes in words, times
 * without milliseconds, lifetimes in words, and whether the request came from the approver's network.
 */
import { createHash } from 'node:crypto';
import type { PageLogo, ServerConfig } from '../config.js';
import { budgetAddress } from '../storage/rate_limits.js';
import { html, type SafeHtml } from './html.js';

/** The largest logo accepted: it is sent with every page view (cached for good under its hash). */
export const MAX_LOGO_BYTES = 64 * 1024;

const LOGO_EXTENSIONS: Record<PageLogo['contentType'], string> = {
  'image/png': 'png',
  'image/svg+xml': 'svg',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

/** The content type for a logo file name, or undefined when its extension is not an accepted image. */
export function logoContentType(fileName: string): PageLogo['contentType'] | undefined {
  const ext = fileName.toLowerCase().split('.').pop();
  if (ext === 'png') return 'image/png';
  if (ext === 'svg') return 'image/svg+xml';
  if (ext === 'jpg' || ext === 'jpeg') return 'image/jpeg';
  if (ext === 'webp') return 'image/webp';
  return undefined;
}

/** `/device/assets/logo-<hash>.<ext>`: immutable, like the script. */
export function logoPath(logo: PageLogo): string {
  const hash = createHash('sha256').update(logo.bytes).digest('hex').slice(0, 16);
  return `/device/assets/logo-${hash}.${LOGO_EXTENSIONS[logo.contentType]}`;
}

/** The brand line at the top of every page: the logo and the organisation's name (default "Clavis"). */
export function brandHeader(config: Pick<ServerConfig, 'organisationName' | 'logo'>): SafeHtml {
  const name = config.organisationName ?? 'Clavis';
  return html`<header class="brand">${config.logo ? html`<img src="${logoPath(config.logo)}" alt="" width="32" height="32">` : ''}<span>${name}</span></header>`;
}

/** Words for the scopes Clavis itself defines; an operator describes others (`CLAVIS_SCOPE_DESCRIPTIONS_FILE`). */
export const BUILT_IN_SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  openid: 'Confirm who you are (your user id)',
  profile: 'See your username',
  email: 'See your e-mail address',
  offline_access: 'Stay signed in after you close this page',
  admin: 'Administer this Clavis server: people, clients, keys and the audit log',
  'keys:mint': 'Create short-lived API keys for jobs',
};

/** The scope in words: the operator's description first, then the built-in one; undefined if none. */
export function describeScope(scope: string, custom: Readonly<Record<string, string>> | undefined) {
  if (custom && Object.hasOwn(custom, scope)) return custom[scope];
  return Object.hasOwn(BUILT_IN_SCOPE_DESCRIPTIONS, scope) ? BUILT_IN_SCOPE_DESCRIPTIONS[scope] : undefined;
}

/** A time in UTC, to the minute: `2026-12-02 06:10 UTC`. */
export function utcText(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A lifetime in words: `24 hours`, `30 days`, `15 minutes`; `about 3 days` when not a whole number. */
export function durationInWords(seconds: number): string {
  const words = (n: number, name: string) => `${n} ${name}${n === 1 ? '' : 's'}`;
  if (seconds < 60) return words(seconds, 'second');
  // Up to two days in hours: "24 hours" reads better than "1 day".
  const units: Array<[number, string]> = (seconds > 2 * 86_400 ? [[86_400, 'day']] : []).concat([
    [3600, 'hour'],
    [60, 'minute'],
  ]) as Array<[number, string]>;
  for (const [size, name] of units) if (seconds % size === 0) return words(seconds / size, name);
  const [size, name] = units.find(([u]) => seconds >= u) ?? [60, 'minute'];
  return `about ${words(Math.round(seconds / size), name)}`;
}

/**
 * The network an address is in, for comparison: an IPv4 address's /24, an IPv6 address's /64 (an
 * IPv4-mapped one counts as IPv4); undefined when unknown.
 */
export function networkOf(ip: string | null | undefined): string | undefined {
  const address = budgetAddress(ip);
  if (address === 'unknown') return undefined;
  if (address.endsWith('/64')) return address;
  return `${address.split('.').slice(0, 3).join('.')}.0/24`;
}

/** Whether the two addresses are in different networks; false when either is unknown. */
export function fromAnotherNetwork(requester: string | null, approver: string | null): boolean {
  const a = networkOf(requester);
  const b = networkOf(approver);
  return a !== undefined && b !== undefined && a !== b;
}
