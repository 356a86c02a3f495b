/**
 * Leak reports: `POST /oauth/api-keys/leaks`, in the shape of GitHub's secret-scanning partner
 * programme — a JSON array of `{"token", "type", "url", "source"}`, at most 100. Every valid, live key
 * reported is revoked at once (reason `leaked`) and audited with where it was found (never the key). The
 * answer says how many were reported and revoked, nothing about whose they were. Unauthenticated (anyone
 * who finds a key should be able to kill it) but rate limited per IP across all instances.
 *
 * This route alone parses JSON: the app otherwise accepts only form bodies, on purpose.
 */
import { checkApiKey, InvalidRequest, TooManyRequests } from '@clavis/core';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { revokeLiveApiKeyByHash } from '../api_keys/api_key_store.js';
import type { AuditLog } from '../audit/audit_log.js';
import type { AuditEntry } from '../audit/events.js';
import type { FailureLog } from '../audit/failure_log.js';
import { paths, type ServerConfig } from '../config.js';
import type { SecretHasher } from '../crypto/secrets.js';
import { requestContext } from '../http/request_context.js';
import { budgetAddress, hitRateLimit, windowStart } from '../storage/rate_limits.js';
import type { Database } from '../storage/schema.js';

export interface ApiKeyLeakDeps {
  config: ServerConfig;
  db: Kysely<Database>;
  audit: AuditLog;
  /** Reports that revoke nothing are aggregated; so are those refused by the budget. */
  failures: FailureLog;
  hasher: SecretHasher;
}

const MAX_LEAK_REPORT_ENTRIES = 100;
const MAX_FIELD = 2048;

interface LeakEntry {
  token: string;
  type: string | null;
  url: string | null;
  source: string | null;
}

function optionalText(value: unknown, name: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > MAX_FIELD)
    throw new InvalidRequest(`"${name}" must be a string`);
  return value;
}

/** The report, checked: an array of 0–100 objects, each with a string `token`. */
function parseLeakReport(body: unknown): LeakEntry[] {
  if (!Array.isArray(body)) throw new InvalidRequest('the body must be a JSON array of reports');
  if (body.length > MAX_LEAK_REPORT_ENTRIES)
    throw new InvalidRequest(`at most ${MAX_LEAK_REPORT_ENTRIES} reports per request`);
  return body.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw new InvalidRequest('each report must be an object');
    const e = entry as Record<string, unknown>;
    if (typeof e.token !== 'string' || e.token.length === 0 || e.token.length > MAX_FIELD)
      throw new InvalidRequest('each report needs a "token" string');
    return {
      token: e.token,
      type: optionalText(e.type, 'type'),
      url: optionalText(e.url, 'url'),
      source: optionalText(e.source, 'source'),
    };
  });
}

const clip = (text: string | null): string | null => (text === null ? null : text.slice(0, 512));

export function registerApiKeyLeakEndpoint(app: FastifyInstance, deps: ApiKeyLeakDeps): void {
  // An encapsulated scope: its JSON parser does not reach any other route.
  app.register(async (scope) => {
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(new InvalidRequest('the body is not valid JSON'), undefined);
      }
    });

    scope.post(paths.apiKeyLeaks, async (request, reply) => {
      const context = requestContext(request);
      const now = deps.config.clock();
      const start = windowStart(now, 60_000);
      const count = await hitRateLimit(deps.db, `api_key_leak:ip:${budgetAddress(context.ip)}`, start);
      if (count > deps.config.apiKeyLeakReportsPerIpPerMinute) {
        await deps.failures.note(
          {
            entry: {
              event: 'api_key.leak_report',
              outcome: 'failure',
              actor: { type: 'anonymous', id: null },
              ip: context.ip,
              userAgent: context.userAgent,
              requestId: context.requestId,
              detail: { reason: 'rate_limited' },
            },
          },
          { throttled: true },
        );
        throw new TooManyRequests('too many leak reports; try again later', (start + 60_000 - now) / 1000);
      }
      const entries = parseLeakReport(request.body);

      let revoked = 0;
      let wellFormed = 0;
      const seen = new Set<string>();
      for (const entry of entries) {
        if (seen.has(entry.token)) continue;
        seen.add(entry.token);
        if (checkApiKey(entry.token) !== 'valid') continue;
        wellFormed += 1;
        const hashes = [deps.hasher.hash(entry.token), ...deps.hasher.olderHashes(entry.token)];
        const id = await deps.audit.transact(
          // A key not yet re-keyed since a KEK rotation is stored under an older version's hash.
          async (tx) => {
            for (const hash of hashes) {
              const revokedId = await revokeLiveApiKeyByHash(tx, hash, 'leaked', now);
              if (revokedId !== null) return revokedId;
            }
            return null;
          },
          (keyId) =>
            keyId === null
              ? null
              : {
                  event: 'api_key.leaked',
                  actor: { type: 'anonymous', id: null },
                  ip: context.ip,
                  userAgent: context.userAgent,
                  requestId: context.requestId,
                  detail: {
                    api_key_id: keyId,
                    url: clip(entry.url),
                    source: clip(entry.source),
                    type: clip(entry.type),
                  },
                },
        );
        if (id !== null) revoked += 1;
      }
      const report: AuditEntry = {
        event: 'api_key.leak_report',
        actor: { type: 'anonymous', id: null },
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        detail: { reported: entries.length, well_formed: wellFormed, revoked },
      };
      // A report that revoked something is recorded as it is; one that revoked nothing (anyone can
      // send those) is aggregated with the others like it from its address.
      if (revoked > 0) await deps.audit.record(report);
      else
        await deps.failures.note({
          entry: { ...report, detail: { ...report.detail, reason: 'nothing_revoked' } },
        });
      return reply
        .header('cache-control', 'no-store')
        .type('application/json; charset=utf-8')
        .send({ reported: entries.length, revoked });
    });
  });
}
