/** The failure record of a refused API-key use: the reason and key id, never the key. */
import type { RequestContext } from '../audit/events.js';
import type { Failure } from '../audit/failure_log.js';
import type { ApiKeyRejection } from './verify_api_key.js';

export function keyDenial(input: {
  reason: ApiKeyRejection;
  keyId?: string | undefined;
  via: 'token_exchange' | 'verify';
  context: RequestContext;
  callerClientId?: string | null;
}): Failure {
  return {
    entry: {
      event: 'api_key.use_denied',
      outcome: 'failure',
      actor: { type: 'anonymous', id: null },
      clientId: input.callerClientId ?? null,
      ip: input.context.ip,
      userAgent: input.context.userAgent,
      requestId: input.context.requestId,
      detail: { reason: input.reason, via: input.via, ...(input.keyId ? { api_key_id: input.keyId } : {}) },
    },
    subject: input.keyId ?? null,
  };
}
