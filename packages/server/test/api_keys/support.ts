/**
 * Helpers for the API-key tests: keys made through the admin module (the code `clavis admin keys` runs),
 * and requests through the real HTTP stack of a TestServer, from a chosen peer address.
 */
import { adminApiKeys } from '@clavis/server';
import { expect } from 'vitest';
import { basic, form } from '../../../../test/support/oauth.js';
import type { TestServer } from '../../../../test/support/test_server.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const API_KEY_TYPE = 'urn:clavis:params:oauth:token-type:api_key';
export const INVALID_EXCHANGE = {
  error: 'invalid_request',
  error_description: 'the subject token is not a valid API key',
};
/** The token endpoint's refusal of a caller outside a key's allow-list: 400, as every error there. */
export const OUTSIDE_ALLOW_LIST = {
  error: 'invalid_request',
  error_description: 'the API key may not be used from this address',
};
export const INVALID_VERIFY = { error: 'invalid_token', error_description: 'the API key is not valid' };

type Server = Pick<TestServer, 'app' | 'services' | 'clock' | 'config'>;

export function keyAdminDeps(server: Server): adminApiKeys.ApiKeyAdminDeps {
  return {
    db: server.services.db,
    audit: server.services.audit,
    hasher: server.services.hasher,
    clock: server.clock.read,
    apiKeyMaxTtlSeconds: server.config.apiKeyMaxTtlSeconds,
  };
}

export const ADMIN = { type: 'admin' as const, id: 'test-admin' };

export async function createKey(
  server: Server,
  input: Partial<adminApiKeys.CreateApiKeyInput> & { owner: string },
): Promise<{ id: string; key: string; view: adminApiKeys.ApiKeyView }> {
  const created = await adminApiKeys.createApiKey(
    keyAdminDeps(server),
    { scopes: ['read'], ttlSeconds: 3600, ...input },
    ADMIN,
  );
  return { id: created.key.id, key: created.plaintext, view: created.key };
}

export interface From {
  /** The TCP peer address the request comes from. */
  remoteAddress?: string;
  headers?: Record<string, string>;
}

export function postFrom(
  server: Pick<TestServer, 'app'>,
  path: string,
  params: Record<string, string>,
  from: From = {},
) {
  return server.app.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...from.headers },
    payload: form(params),
    ...(from.remoteAddress ? { remoteAddress: from.remoteAddress } : {}),
  });
}

export function exchange(
  server: Pick<TestServer, 'app'>,
  key: string,
  extra: Record<string, string> = {},
  from: From = {},
) {
  return postFrom(
    server,
    '/oauth/token',
    { grant_type: TOKEN_EXCHANGE, subject_token: key, subject_token_type: API_KEY_TYPE, ...extra },
    from,
  );
}

export interface Caller {
  id: string;
  secret: string;
}

export function verify(
  server: Pick<TestServer, 'app'>,
  caller: Caller,
  params: Record<string, string>,
  from: From = {},
) {
  return postFrom(server, '/oauth/api-keys/verify', params, {
    ...from,
    headers: { authorization: basic(caller.id, caller.secret), ...from.headers },
  });
}

export async function registerCaller(
  server: TestServer,
  input: Parameters<TestServer['createClient']>[0] = {},
) {
  const { client, secret } = await server.createClient(input);
  return { id: client.id, secret: secret ?? '', client };
}

export async function keyRow(server: Server, id: string) {
  const row = await server.services.db
    .selectFrom('api_keys')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  expect(row).toBeDefined();
  return row as NonNullable<typeof row>;
}
