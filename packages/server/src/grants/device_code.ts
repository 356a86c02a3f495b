/**
 * The device_code grant (RFC 8628 §3.4–3.5): a device polls with its device code until a person decides.
 *
 * pending → `authorization_pending` (or `slow_down`, and 5 s more from then on, if it polls too fast);
 * denied → `access_denied`, final; expired → `expired_token`; approved → tokens, exactly once: the code is
 * consumed in the same transaction that writes the token family and its audit record, so parallel polls at
 * the moment of approval yield one token response and `invalid_grant` for the rest. A consumed code
 * presented again is a replay: the tokens it produced are revoked.
 */

import {
  AccessDenied,
  AuthorizationPending,
  ExpiredToken,
  GrantType,
  InvalidGrant,
  OPENID_SCOPE,
  SlowDown,
} from '@clavis/core';
import { randomId } from '../crypto/secrets.js';
import { deviceRequestIdOf } from '../device/device_code.js';
import { consumeDeviceCode, findDeviceCode, recordPoll, rekeyDeviceCode } from '../device/device_store.js';
import { requireParam } from '../http/form_body.js';
import { insertFamily, revokeFamily } from '../refresh/refresh_store.js';
import { activePerson } from '../users/account_status.js';
import { entitledScopes } from '../users/entitlements.js';
import type { ClientGrant, UserTokenGrantDeps } from './grant.js';
import { issueUserTokens, parseMethods, refreshLifetimes } from './user_tokens.js';

const MAX_DEVICE_CODE_LENGTH = 128;
/** Looked up in place of a malformed code's id, so every code costs one lookup: no row has it. */
const NO_REQUEST = 'dev_';
/** Compared in place of a missing row's hash (matches nothing), so every code costs one keyed hash. */
const NO_HASH = '';

export const deviceCode: ClientGrant<UserTokenGrantDeps> = {
  grantType: GrantType.DeviceCode,
  clientAuthentication: 'required',
  allowPublicClients: true,

  async handle(deps, { client, params, context }) {
    const { config, db, audit, hasher } = deps;
    const presented = requireParam(params, 'device_code');
    // Unknown, malformed and foreign codes take the same path — one lookup by id, one keyed hash compared
    // in constant time — and get the same answer (DF-05, DF-09). The stored hash may be under any live
    // hashing-key version; one under an older version is re-keyed when the code is consumed.
    const id = presented.length <= MAX_DEVICE_CODE_LENGTH ? deviceRequestIdOf(presented) : undefined;
    const stored = await findDeviceCode(db, id ?? NO_REQUEST);
    const matches = hasher.verify(presented, stored?.device_code_hash ?? NO_HASH);
    const row = matches ? stored : undefined;
    if (!row || row.client_id !== client.id) throw new InvalidGrant('device_code is invalid');
    const staleHash = hasher.isCurrent(row.device_code_hash) ? undefined : row.device_code_hash;
    const now = config.clock();

    if (row.status === 'consumed') {
      if (row.family_id) {
        const familyId = row.family_id;
        await audit.transact(
          (tx) => revokeFamily(tx, familyId, 'device_code_replayed', now),
          (revoked) => ({
            event: 'token.family_revoke',
            outcome: 'failure',
            actor: { type: 'client', id: client.id },
            clientId: client.id,
            ip: context.ip,
            userAgent: context.userAgent,
            requestId: context.requestId,
            detail: { family: familyId, reason: 'device_code_replayed', already_revoked: !revoked },
          }),
        );
      }
      throw new InvalidGrant('device_code has already been used');
    }
    if (Number(row.expires_at) <= now) throw new ExpiredToken('the device code has expired');
    if (row.status === 'denied') throw new AccessDenied('the request was denied');
    if (row.status === 'pending') {
      // No record of its own: on SQLite the poll rides the group commit (one fsync per batch, not per poll).
      const poll = await audit.run(recordPoll(row.id, now), () => null, { mayCommitApart: true });
      if (poll === 'slow_down') throw new SlowDown('polling too fast');
      throw new AuthorizationPending('waiting for the user to approve');
    }

    // Approved. The person must still be allowed to sign in (DF-13).
    const userId = row.user_id;
    if (!userId) throw new AccessDenied('the account cannot sign in');
    const familyId = randomId('fam_', 12);
    const familyExpiresAt = now + refreshLifetimes(deps, client).absolute * 1000;
    // Loaded before the transaction: loading it inside could wait for the connection the unit holds.
    const signingKey = await deps.keys.current();
    // What was approved bounds what is issued: an ID token only if it holds `openid`.
    const idTokenKey = (JSON.parse(row.scopes) as string[]).includes(OPENID_SCOPE)
      ? await deps.keys.currentIdTokenKey()
      : undefined;
    const issued = await audit.transact(
      async (tx) => {
        if (!(await consumeDeviceCode(tx, row.id, familyId, now))) {
          throw new InvalidGrant('device_code has already been used');
        }
        if (staleHash) await rekeyDeviceCode(tx, row.id, staleHash, hasher.hash(presented));
        // Judged inside the transaction: a `users disable` that committed first refuses here; one that
        // commits later waits for the code's row and then finds (and revokes) the family made here.
        const person = await activePerson(tx, userId);
        if (!person) throw new AccessDenied('the account cannot sign in');
        // What was approved, less what the person has lost since (admin, part of their ceiling).
        const scopes = entitledScopes(JSON.parse(row.scopes) as string[], person, { mfa: true });
        // How the person signed in for this approval: the family keeps it for every refresh's ID token.
        const authTime = row.auth_time === null || row.auth_time === undefined ? null : Number(row.auth_time);
        const amr = row.amr ?? null;
        await insertFamily(tx, {
          id: familyId,
          client_id: client.id,
          user_id: userId,
          scopes: JSON.stringify(scopes),
          created_at: now,
          expires_at: familyExpiresAt,
          revoked_at: null,
          revoked_reason: null,
          auth_time: authTime,
          amr,
        });
        return issueUserTokens(deps, tx, {
          client,
          userId,
          scopes,
          familyId,
          familyExpiresAt,
          audience: client.audiences[0] ?? config.issuer,
          now,
          signingKey,
          idTokenKey,
          username: person.username,
          authentication: { time: authTime, methods: parseMethods(amr) },
        });
      },
      (result) => ({
        event: 'token.issue',
        actor: { type: 'user', id: userId },
        clientId: client.id,
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        detail: {
          grant_type: GrantType.DeviceCode,
          device_request: row.id,
          family: familyId,
          jti: result.claims.jti,
          sub: userId,
          scope: result.claims.scope ?? '',
          exp: result.claims.exp,
        },
      }),
    );
    return issued.response;
  },
};
