/**
 * The JSON an administrative result is shown as: what `clavis admin … --json` prints and what the admin
 * HTTP API answers, built in one place so the two cannot differ. One-time secrets (a client secret, an
 * API key, a password, a TOTP secret) appear only in the results that just made them.
 */
import { type Client, clientView } from '../clients/client.js';
import type { ConditionResult } from '../federation/evaluate_workload_token.js';
import { type Federation, federationView } from '../federation/federation.js';
import type { ApiKeyView } from './api_keys.js';
import type { ClientSecretView } from './client_secrets.js';
import { federationWarnings } from './federations.js';
import type { HashingVersionUse } from './hashing_versions.js';
import type { DeletedIdp } from './idps.js';
import { type HashRetirement, type KekStatus, olderTotal } from './kek.js';
import type { ReplaceResult } from './signing_keys.js';
import type { CreatedUser, UserView } from './users.js';

/** `clients create`: the client, and its secret when one was generated. */
export function createdClientJson(client: Client, secret?: string): Record<string, unknown> {
  return { ...clientView(client), ...(secret ? { client_secret: secret } : {}) };
}

/** `clients rotate-secret`. */
export function rotatedSecretJson(result: { clientId: string; secret: string; previousExpireAt: number }) {
  return {
    client_id: result.clientId,
    client_secret: result.secret,
    previous_secrets_expire_at: new Date(result.previousExpireAt).toISOString(),
  };
}

/** `clients secrets revoke`. */
export function revokedSecretJson(clientId: string, secret: ClientSecretView) {
  return { client_id: clientId, ...secret };
}

/** `users create`: the person, and what was generated for them. */
export function createdUserJson(created: CreatedUser): Record<string, unknown> {
  return {
    ...created.user,
    ...(created.password !== undefined ? { password: created.password } : {}),
    ...(created.totpSecret !== undefined
      ? { totp_secret: created.totpSecret, totp_uri: created.totpUri }
      : {}),
  };
}

/** `users disable`. */
export function disabledUserJson(result: { user: UserView; revokedFamilies: number }) {
  return { ...result.user, revoked_families: result.revokedFamilies };
}

/** `users set-password`: the person, and the generated password when there is one. */
export function passwordSetJson(result: { user: UserView; password?: string }) {
  return { ...result.user, ...(result.password !== undefined ? { password: result.password } : {}) };
}

/** `users revoke-sessions`. */
export function revokedSessionsJson(result: { user: UserView; revokedFamilies: number }) {
  return { user: result.user.username, revoked_families: result.revokedFamilies };
}

/** An API key, with `key` only when it was just made (create, rotate). */
export function apiKeyJson(view: ApiKeyView, plaintext?: string): Record<string, unknown> {
  return { ...view, ...(plaintext !== undefined ? { key: plaintext } : {}) };
}

/** `keys rotate`: the successor with its key, and the old key. */
export function rotatedApiKeyJson(rotated: { old: ApiKeyView; key: ApiKeyView; plaintext: string }) {
  return { ...apiKeyJson(rotated.key, rotated.plaintext), predecessor: rotated.old };
}

/** `federations create|update`: the federation, and what about its policy deserves a warning. */
export function federationWithWarningsJson(federation: Federation): Record<string, unknown> {
  return { ...federationView(federation), warnings: federationWarnings(federation) };
}

/** `federations test`. */
export function federationTestJson(id: string, outcome: { results: ConditionResult[]; pass: boolean }) {
  return { id, pass: outcome.pass, conditions: outcome.results };
}

/** `signing-keys rotate`. */
export function signingKeysRotatedJson(withdrawNow: boolean, result: ReplaceResult) {
  return { withdraw_now: withdrawNow, ...result };
}

/** The secret-hashing key versions with their live hashes. */
export function hashingJson(hashing: readonly HashingVersionUse[]) {
  return hashing.map((h) => ({ version: h.version, current: h.current, live: h.live, total: h.total }));
}

/** `kek status`. */
export function kekStatusJson(status: KekStatus) {
  return {
    kek_in_use: status.inUse,
    kek_configured: status.configured,
    rotation_pending: status.rotationPending,
    hashing: hashingJson(status.hashing),
    hashes_under_older_versions: olderTotal(status.hashing),
  };
}

/** `kek retire-hashes`. */
export function hashRetirementJson(retirement: HashRetirement) {
  return {
    retired: retirement.version,
    revoked: retirement.revoked,
    hashing: hashingJson(retirement.hashing),
  };
}

/** `idps delete` (`name` for the line the CLI prints; its `--json` leaves it out). */
export function deletedIdpJson(deleted: DeletedIdp) {
  return {
    id: deleted.idp.id,
    name: deleted.idp.name,
    deleted: true as const,
    unlinked: deleted.unlinked,
    revoked_families: deleted.revokedFamilies,
  };
}
