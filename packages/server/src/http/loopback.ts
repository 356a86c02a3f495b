/**
 * The one rule for plain http: allowed only to a loopback host (`localhost`, `127.x.x.x`, `[::1]`), for
 * local issuers, clients and tests; everything else must be https. Used for the issuer, client
 * `jwks_uri`s, federation issuers and every outbound fetch.
 */

/** Whether `hostname` (as `URL.hostname` spells it) is a loopback host. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  // Not `*.localhost`: whether such a name resolves to loopback is up to the resolver.
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Whether `url` is https, or http to a loopback host. */
export function isHttpsOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}
