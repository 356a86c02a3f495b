/** `/audit`: what `clavis admin audit list|export|verify` does, with the same records and result. */
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { type AuditListOptions, auditCursor, listAuditPage } from '../admin/audit.js';
import { readAnchor } from '../audit/anchor.js';
import { verifyAuditLog } from '../audit/verify.js';
import type { ResourceDeps } from './deps.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from './pagination.js';
import { Problem } from './problem.js';
import { type AdminRoute, route } from './route.js';
import { auditRecordSchema, auditVerifySchema, body, list, seconds } from './schemas.js';

const TAG = 'audit';
const isoTime = { type: 'string', maxLength: 40, description: 'ISO-8601' };
const filterProperties = {
  since: { ...isoTime, description: 'Records at or after this time (ISO-8601)' },
  until: { ...isoTime, description: 'Records before this time (ISO-8601)' },
};

interface Filters {
  since?: string;
  until?: string;
  event?: string;
  client_id?: string;
  actor?: string;
  outcome?: 'success' | 'failure';
  order?: 'newest' | 'oldest';
  limit?: number;
  cursor?: string;
}

function time(name: string, text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Problem('invalid-request', `${name} is not an ISO-8601 time`);
  return ms;
}

function filters(q: Filters): AuditListOptions {
  return {
    ...(q.event ? { event: q.event } : {}),
    ...(q.client_id ? { clientId: q.client_id } : {}),
    ...(q.actor ? { actor: q.actor } : {}),
    ...(q.outcome ? { outcome: q.outcome } : {}),
    ...(q.since ? { since: time('since', q.since) } : {}),
    ...(q.until ? { until: time('until', q.until) } : {}),
  };
}

export function auditRoutes(deps: ResourceDeps): AdminRoute[] {
  const { db } = deps.admin;
  return [
    route<unknown, Filters, unknown>({
      method: 'GET',
      url: '/audit',
      operationId: 'listAudit',
      summary: 'Audit records, newest first, filtered (clavis admin audit list)',
      tag: TAG,
      access: 'read',
      schema: {
        querystring: {
          type: 'object',
          properties: {
            ...filterProperties,
            event: { type: 'string', maxLength: 64 },
            client_id: { type: 'string', maxLength: 128 },
            actor: {
              type: 'string',
              maxLength: 200,
              description: 'A user id or username, a client id, os:USER@HOST',
            },
            outcome: { type: 'string', enum: ['success', 'failure'] },
            order: { type: 'string', enum: ['newest', 'oldest'] },
            limit: { type: 'integer', minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT },
            cursor: { type: 'string', minLength: 1, maxLength: 512 },
          },
          additionalProperties: false,
        },
        responses: { 200: { description: 'The records', schema: list(auditRecordSchema) } },
      },
      handler: async ({ query }) => {
        const after = query.cursor !== undefined ? auditCursor.decode(query.cursor) : undefined;
        if (query.cursor !== undefined && !after)
          throw new Problem('invalid-request', 'cursor is not one this API returned');
        const page = await listAuditPage(
          db,
          {
            ...filters(query),
            ...(query.order ? { order: query.order } : {}),
            limit: query.limit ?? PAGE_LIMIT_DEFAULT,
            ...(after ? { after } : {}),
          },
          deps.auditKey,
        );
        return {
          status: 200,
          body: { items: page.records, next_cursor: page.next ? auditCursor.encode(page.next) : null },
        };
      },
    }),
    route<unknown, Filters, unknown>({
      method: 'GET',
      url: '/audit/export',
      operationId: 'exportAudit',
      summary:
        'Every audit record in the window, oldest first, one JSON object a line (clavis admin audit export)',
      tag: TAG,
      access: 'read',
      schema: {
        querystring: { type: 'object', properties: filterProperties, additionalProperties: false },
        responses: {
          200: {
            description: 'NDJSON: one audit record a line',
            contentType: 'application/x-ndjson',
            schema: { type: 'string' },
          },
        },
      },
      handler: async ({ query }) => {
        const selected = filters(query);
        async function* lines() {
          let position: AuditListOptions['after'];
          do {
            const page = await listAuditPage(
              db,
              { ...selected, order: 'oldest', limit: 1000, ...(position ? { after: position } : {}) },
              deps.auditKey,
            );
            yield page.records.map((r) => `${JSON.stringify(r)}\n`).join('');
            position = page.next;
          } while (position);
        }
        return { status: 200, raw: { contentType: 'application/x-ndjson', text: Readable.from(lines()) } };
      },
    }),
    route<unknown, unknown, { max_unsealed_age_seconds?: number }>({
      method: 'POST',
      url: '/audit/verify',
      operationId: 'verifyAudit',
      summary: "Verify the audit chain against this server's anchor file (clavis admin audit verify)",
      tag: TAG,
      access: 'read',
      optionalBody: true,
      schema: {
        body: body({ max_unsealed_age_seconds: seconds }),
        responses: {
          200: { description: 'The result; ok false names the first break', schema: auditVerifySchema },
        },
      },
      handler: async ({ body: b }) => {
        const file = deps.auditAnchorFile;
        const anchors = file && existsSync(file) ? [await readAnchor(file)] : undefined;
        const result = await verifyAuditLog(db, deps.auditKey, {
          ...(anchors ? { anchors } : {}),
          now: deps.admin.clock(),
          ...(b.max_unsealed_age_seconds !== undefined
            ? { maxUnsealedAgeMs: b.max_unsealed_age_seconds * 1000 }
            : {}),
        });
        return { status: 200, body: result };
      },
    }),
  ];
}
