/**
 * `--report URL`: the verified Clavis keys a scan found, sent to that server's leak report endpoint
 * (found through its discovery document), which revokes every live one at once. Says how many were
 * revoked; the rest were unknown to that server or already inactive (it does not say which).
 */
import { ScanError } from './scan_error.js';

export interface LeakReportResult {
  /** Distinct keys sent. */
  reported: number;
  revoked: number;
  /** Not revoked by this report: unknown to the server, expired, or already revoked. */
  unknown: number;
}

export interface LeakToReport {
  key: string;
  /** Where it was found (`file:line`, with the commit for history), sent as the report's `url`. */
  where: string;
}

/** The endpoint takes at most this many reports per request. */
const BATCH = 100;
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** The server URL checked: keys travel to it, so https, or http only to this machine. */
export function reportServer(given: string): URL {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new ScanError(`--report is not a URL: ${JSON.stringify(given.slice(0, 100))}`);
  }
  const local = url.protocol === 'http:' && LOOPBACK.has(url.hostname);
  if ((url.protocol !== 'https:' && !local) || url.username || url.password || url.search || url.hash)
    throw new ScanError(
      '--report must be an https URL (or http on loopback) without credentials, query or fragment',
    );
  return url;
}

async function leakEndpoint(server: URL, fetchFn: typeof fetch): Promise<string> {
  const base = server.href.replace(/\/+$/, '');
  let metadata: unknown;
  try {
    const res = await fetchFn(`${base}/.well-known/oauth-authorization-server`, {
      headers: { accept: 'application/json' },
      redirect: 'error',
    });
    if (!res.ok) throw new ScanError(`${base}: discovery answered HTTP ${res.status}`);
    metadata = await res.json();
  } catch (err) {
    if (err instanceof ScanError) throw err;
    throw new ScanError(`${base}: cannot read its discovery document (${(err as Error).message})`);
  }
  const endpoint = (metadata as { api_key_leak_report_endpoint?: unknown }).api_key_leak_report_endpoint;
  if (typeof endpoint !== 'string') throw new ScanError(`${base} has no API-key leak report endpoint`);
  return endpoint;
}

export async function reportLeaks(
  server: URL,
  leaks: readonly LeakToReport[],
  fetchFn: typeof fetch,
): Promise<LeakReportResult> {
  // Each key once, with where it was first found.
  const first = new Map<string, LeakToReport>();
  for (const leak of leaks) if (!first.has(leak.key)) first.set(leak.key, leak);
  const unique = [...first.values()];
  if (unique.length === 0) return { reported: 0, revoked: 0, unknown: 0 };
  const endpoint = await leakEndpoint(server, fetchFn);
  let revoked = 0;
  for (let i = 0; i < unique.length; i += BATCH) {
    const body = unique.slice(i, i + BATCH).map((leak) => ({
      token: leak.key,
      type: 'clavis_api_key',
      url: leak.where.slice(0, 512),
      source: 'clavis scan',
    }));
    let res: Response;
    try {
      res = await fetchFn(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        redirect: 'error',
      });
    } catch (err) {
      throw new ScanError(`the leak report failed: ${(err as Error).message}`);
    }
    if (!res.ok) {
      const already = revoked > 0 ? ` after ${revoked} revoked` : '';
      throw new ScanError(`the leak report endpoint answered HTTP ${res.status}${already}`);
    }
    const answer = (await res.json().catch(() => null)) as { revoked?: unknown } | null;
    if (typeof answer?.revoked !== 'number') throw new ScanError('the leak report endpoint gave no count');
    revoked += answer.revoked;
  }
  return { reported: unique.length, revoked, unknown: unique.length - revoked };
}
