/** Shared helpers for the federation tests: policies through the admin code path, exchanges, audit. */
import { adminFederations, type Federation } from '@clavis/server';
import { expect } from 'vitest';
import { post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import type { TestServer } from '../../../../test/support/test_server.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export function federationDeps(server: TestServer): adminFederations.FederationAdminDeps {
  return {
    db: server.services.db,
    audit: server.services.audit,
    clock: server.clock.read,
    maxAccessTokenTtlSeconds: server.config.maxAccessTokenTtlSeconds,
  };
}

/** Creates a federation through the same code path as `clavis admin federations create`. */
export function createFederation(
  server: TestServer,
  input: adminFederations.CreateFederationInput,
): Promise<Federation> {
  return adminFederations.createFederation(federationDeps(server), input, { type: 'admin', id: 'test' });
}

export function exchange(
  server: TestServer,
  subjectToken: string,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  return post(
    server,
    TOKEN_PATH,
    { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: JWT_TYPE, ...extra },
    headers,
  );
}

export function jwtBearer(server: TestServer, assertion: string, extra: Record<string, string> = {}) {
  return post(server, TOKEN_PATH, { grant_type: JWT_BEARER, assertion, ...extra });
}

export interface AuditRow {
  event: string;
  outcome: string;
  client_id: string | null;
  detail: Record<string, unknown>;
  raw: string;
}

/** Audit records of `event`, oldest first. */
export async function auditRows(server: TestServer, event: string): Promise<AuditRow[]> {
  await server.services.audit.drain();
  const rows = await server.services.db
    .selectFrom('audit_events')
    .select(['event', 'outcome', 'client_id', 'detail', 'seq', 'at'])
    .where('event', '=', event)
    .orderBy('at')
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({
    event: r.event,
    outcome: r.outcome,
    client_id: r.client_id,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    raw: r.detail,
  }));
}

/** The last `federation.exchange_denied` record: its reason, and proof it does not hold the token. */
export async function lastDenial(server: TestServer, token: string): Promise<AuditRow> {
  const rows = await auditRows(server, 'federation.exchange_denied');
  const last = rows.at(-1);
  if (!last) throw new Error('no exchange_denied record');
  expect(last.outcome).toBe('failure');
  // Never the token, nor its signature, in the audit log.
  expect(last.raw).not.toContain(token.slice(0, 40));
  const signature = token.split('.')[2];
  if (signature) expect(last.raw).not.toContain(signature);
  return last;
}
