/**
 * The device authorization endpoint (RFC 8628 §3.1–3.2): authenticate the client (a public client just
 * names itself), check it may use the device grant, check the scope, and create the pending request: a
 * device code naming the request, with 256 random bits (stored hashed), and a user code a person can type.
 */
import { type DeviceAuthorizationResponse, GrantType, UnauthorizedClient } from '@clavis/core';
import type { FastifyInstance } from 'fastify';
import type { AuditLog, BatchTally } from '../audit/audit_log.js';
import type { AuditEntry } from '../audit/events.js';
import { endpointUrl, paths, type ServerConfig } from '../config.js';
import type { SecretHasher } from '../crypto/secrets.js';
import { newDeviceCode } from '../device/device_code.js';
import { insertDeviceCodes, insertDeviceCodesStep } from '../device/device_store.js';
import { formatUserCode, generateUserCode } from '../device/user_code.js';
import type { UserCodesAtRest } from '../device/user_code_at_rest.js';
import { grantedScopes } from '../grants/scopes.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { DeviceCodeRow } from '../storage/schema.js';
import { defaultPersonScopes } from '../users/entitlements.js';
import { type ClientAuthenticator, clientRequest } from './client_request.js';

export interface DeviceAuthorizationDeps {
  config: ServerConfig;
  audit: AuditLog;
  /** Hashes the device code: only its hash is stored. */
  hasher: SecretHasher;
  /** The stored form of user codes: only it is stored. */
  userCodes: UserCodesAtRest;
  authenticate: ClientAuthenticator;
}

/**
 * New device requests ride the group commit as a tally: a batch's rows are one insert (one `unnest` on
 * PostgreSQL) with its records, rather than one statement each. A taken code fails only its own request
 * (the batch is then committed unit by unit), which draws new codes.
 */
export const NEW_DEVICE_CODES: BatchTally<DeviceCodeRow> = {
  write: (rows) => insertDeviceCodes(rows),
  statements: (rows) => [insertDeviceCodesStep(rows)],
};

export function registerDeviceAuthorizationEndpoint(
  app: FastifyInstance,
  deps: DeviceAuthorizationDeps,
): void {
  const { config } = deps;
  app.post(paths.deviceAuthorization, async (request, reply) => {
    const { params, context, client } = await clientRequest(
      request,
      deps.authenticate,
      'device_authorization',
    );
    if (!client.grantTypes.includes(GrantType.DeviceCode)) {
      throw new UnauthorizedClient('the client may not use the device authorization grant');
    }
    // A person's request that names no scope gets the minimal default, never the client's ceiling.
    const scopes =
      params.scope === undefined ? defaultPersonScopes(client.scopes) : grantedScopes(params, client.scopes);
    const now = config.clock();
    const expiresAt = now + config.deviceCodeTtlSeconds * 1000;

    // A user code collides with a live one about once in 25 billion: try again, a few times at most.
    for (let attempt = 1; ; attempt++) {
      const userCode = generateUserCode();
      const { id, deviceCode } = newDeviceCode(now);
      try {
        const row: DeviceCodeRow = {
          id,
          device_code_hash: deps.hasher.hash(deviceCode),
          user_code: deps.userCodes.stored(userCode),
          client_id: client.id,
          scopes: JSON.stringify(scopes),
          status: 'pending',
          interval: config.devicePollIntervalSeconds,
          last_polled_at: null,
          created_at: now,
          expires_at: expiresAt,
          requester_ip: context.ip,
          requester_user_agent: context.userAgent,
          claimed_by_session: null,
          user_id: null,
          decided_at: null,
          consumed_at: null,
          family_id: null,
          auth_time: null,
          amr: null,
        };
        const entry: AuditEntry = {
          event: 'device.request',
          actor: { type: 'client', id: client.id },
          clientId: client.id,
          ip: context.ip,
          userAgent: context.userAgent,
          requestId: context.requestId,
          detail: {
            device_request: id,
            scope: scopes.join(' '),
            expires_at: new Date(expiresAt).toISOString(),
          },
        };
        await deps.audit.recordTallied(entry, NEW_DEVICE_CODES, row);
      } catch (err) {
        if (attempt < 5 && isUniqueViolation(err)) continue;
        throw err;
      }
      const verificationUri = endpointUrl(config, paths.device);
      const formatted = formatUserCode(userCode);
      const body: DeviceAuthorizationResponse = {
        device_code: deviceCode,
        user_code: formatted,
        verification_uri: verificationUri,
        verification_uri_complete: `${verificationUri}?user_code=${formatted}`,
        expires_in: config.deviceCodeTtlSeconds,
        interval: config.devicePollIntervalSeconds,
      };
      return reply.header('cache-control', 'no-store').send(body);
    }
  });
}
