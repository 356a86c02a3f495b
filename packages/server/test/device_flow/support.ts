/**
 * Helpers for the device-flow protocol tests: device requests, polls, refreshes, and decisions made
 * straight in storage (claim the code for a session, then decideDeviceCode) — so these tests never depend
 * on the verification pages. Every request still goes through the real HTTP stack of a TestServer.
 */
import { expect } from 'vitest';
import { decideInStorage, storedUserCode } from '../../../../test/support/device_decision.js';
import { type Caller, postAs } from '../../../../test/support/oauth.js';
import type { TestServer } from '../../../../test/support/test_server.js';
import { findDeviceCodeByUserCode } from '../../src/device/device_store.js';
import { rawRows } from '../../src/storage/raw.js';
import type { DeviceCodeRow } from '../../src/storage/schema.js';

export { decideInStorage, storedUserCode };

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

type Server = Pick<TestServer, 'app' | 'services' | 'clock'>;

export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

export interface UserTokens {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  scope?: string;
}

export function requestDeviceCodeRaw(server: Server, caller: Caller | string, scope?: string) {
  const c = typeof caller === 'string' ? { id: caller } : caller;
  return postAs(server, '/oauth/device_authorization', c, scope === undefined ? {} : { scope });
}

/** A device request that must succeed. */
export async function requestDeviceCode(
  server: Server,
  caller: Caller | string,
  scope?: string,
): Promise<DeviceAuthorization> {
  const res = await requestDeviceCodeRaw(server, caller, scope);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as DeviceAuthorization;
}

export async function deviceRow(server: Server, userCode: string): Promise<DeviceCodeRow> {
  const row = await findDeviceCodeByUserCode(
    server.services.db,
    storedUserCode(server.services.stableKeys.auditSubjects, userCode),
  );
  if (!row) throw new Error(`no device code row for ${userCode}`);
  return row;
}

function decide(server: Server, userCode: string, userId: string, approve: boolean): Promise<boolean> {
  return decideInStorage(server.services.db, {
    userCode,
    subjectKey: server.services.stableKeys.auditSubjects,
    userId,
    approve,
    now: server.clock.now,
  });
}

export function approve(server: Server, userCode: string, userId: string): Promise<boolean> {
  return decide(server, userCode, userId, true);
}

export function deny(server: Server, userCode: string, userId: string): Promise<boolean> {
  return decide(server, userCode, userId, false);
}

/** One poll of the token endpoint with a device code. */
export function poll(server: Server, caller: Caller | string, deviceCode: string) {
  const c = typeof caller === 'string' ? { id: caller } : caller;
  return postAs(server, '/oauth/token', c, { grant_type: DEVICE_GRANT, device_code: deviceCode });
}

export function refresh(server: Server, caller: Caller | string, refreshToken: string, scope?: string) {
  const c = typeof caller === 'string' ? { id: caller } : caller;
  return postAs(server, '/oauth/token', c, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    ...(scope === undefined ? {} : { scope }),
  });
}

/** Device request → approval by `userId` → the token response. */
export async function obtainTokens(
  server: Server,
  caller: Caller | string,
  userId: string,
  scope?: string,
): Promise<UserTokens> {
  const auth = await requestDeviceCode(server, caller, scope);
  expect(await approve(server, auth.user_code, userId)).toBe(true);
  const res = await poll(server, caller, auth.device_code);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as UserTokens;
}

export async function countRows(
  server: Server,
  table: 'device_codes' | 'token_families' | 'refresh_tokens',
  where?: { column: 'client_id' | 'family_id'; value: string },
): Promise<number> {
  const rows = await rawRows<{ n: number | string }>(
    server.services.db,
    `select count(*) as n from ${table}${where ? ` where ${where.column} = ?` : ''}`,
    where ? [where.value] : [],
  );
  return Number(rows[0]?.n ?? 0);
}

/** The family a refresh token's successor chain lives in, from the device request that started it. */
export async function familyOf(server: Server, userCode: string): Promise<string> {
  const row = await deviceRow(server, userCode);
  if (!row.family_id) throw new Error('the code was not redeemed');
  return row.family_id;
}
