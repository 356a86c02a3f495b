/**
 * RFC 7662 answers for API keys. Introspection only looks: it is not a use (it consumes nothing, counts
 * nothing and does not move `last_used_at`), and, knowing no caller address, it does not apply the
 * allow-list. An unusable key — unknown, revoked, expired, exhausted, its owner disabled — is
 * `{"active":false}` and nothing more (§2.2).
 */
import type { ApiKeyIntrospection } from '@clavis/core';
import type { ServerConfig } from '../config.js';
import type { ApiKeyVerifier } from './verify_api_key.js';

export const INACTIVE = '{"active":false}';

export async function introspectApiKey(
  apiKeys: ApiKeyVerifier,
  config: Pick<ServerConfig, 'issuer'>,
  presented: string,
): Promise<string | ApiKeyIntrospection> {
  const inspected = await apiKeys.inspect(presented, null, { checkAddress: false });
  if (!inspected.ok) return INACTIVE;
  const { key, owner, scopes } = inspected;
  return {
    active: true,
    token_type: 'api_key',
    iss: config.issuer,
    sub: owner.id,
    client_id: owner.type === 'client' ? owner.id : key.id,
    ...(scopes.length ? { scope: scopes.join(' ') } : {}),
    exp: Math.floor(key.expiresAt / 1000),
    iat: Math.floor(key.createdAt / 1000),
    api_key_id: key.id,
  };
}
