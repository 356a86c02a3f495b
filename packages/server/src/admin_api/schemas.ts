/**
 * The JSON schemas of the admin API's representations: each one the `--json` view the CLI prints for the
 * same command (`clientView`, `UserView`, `ApiKeyView`, `federationView`, …), closed
 * (`additionalProperties: false`) so that a view and its schema cannot drift apart unnoticed: the
 * schema-driven tests check every response against them.
 */

import { severities } from '../posture/finding.js';
import { ageBands, credentialKinds } from '../posture/report.js';
import { HASHED_SECRET_TABLES } from '../storage/hashed_secrets.js';
import { PROBLEM_TYPE_PREFIX } from './problem.js';
import type { JsonSchema } from './route.js';

export const string: JsonSchema = { type: 'string' };
export const nullableString: JsonSchema = { type: ['string', 'null'] };
export const integer: JsonSchema = { type: 'integer' };
export const nullableInteger: JsonSchema = { type: ['integer', 'null'] };
export const boolean: JsonSchema = { type: 'boolean' };
export const strings: JsonSchema = { type: 'array', items: string };
export const time: JsonSchema = { type: 'string', description: 'ISO-8601 UTC' };
export const nullableTime: JsonSchema = { type: ['string', 'null'], description: 'ISO-8601 UTC' };

/** A closed object: every property listed is required unless named in `optional`. */
export function object(properties: Record<string, JsonSchema>, optional: readonly string[] = []): JsonSchema {
  return {
    type: 'object',
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    additionalProperties: false,
  };
}

/** A request body: closed, every field optional unless named in `required`. */
export function body(properties: Record<string, JsonSchema>, required: readonly string[] = []): JsonSchema {
  return { type: 'object', properties, required: [...required], additionalProperties: false };
}

/** `{items, next_cursor}` of a list. */
export function list(item: JsonSchema): JsonSchema {
  return object({ items: { type: 'array', items: item }, next_cursor: nullableString });
}

/** Bounded text fields of request bodies. */
export const text = (max: number): JsonSchema => ({ type: 'string', maxLength: max });
export const textList = (max: number, items = 100): JsonSchema => ({
  type: 'array',
  maxItems: items,
  items: { type: 'string', maxLength: max },
});
export const seconds: JsonSchema = { type: 'integer', minimum: 0, maximum: 10 * 365 * 86_400 };

export const problemSchema: JsonSchema = object({
  type: { type: 'string', pattern: `^${PROBLEM_TYPE_PREFIX}[a-z-]+$` },
  title: string,
  status: { type: 'integer', minimum: 400, maximum: 599 },
  detail: string,
});

const clientProperties: Record<string, JsonSchema> = {
  client_id: string,
  name: string,
  owner: nullableString,
  kind: { type: 'string', enum: ['public', 'confidential'] },
  token_endpoint_auth_method: string,
  grant_types: strings,
  scopes: strings,
  audiences: strings,
  jwks_uri: nullableString,
  has_jwks: boolean,
  access_token_ttl: integer,
  created_at: time,
  created_by: nullableString,
  disabled_at: nullableTime,
  require_mfa: boolean,
  require_mfa_level: { type: 'string', enum: ['none', 'any', 'phishing-resistant'] },
  refresh_idle_ttl: nullableInteger,
  refresh_absolute_ttl: nullableInteger,
};
export const clientSchema = object(clientProperties);
export const createdClientSchema = object({ ...clientProperties, client_secret: string }, ['client_secret']);
export const rotatedSecretSchema = object({
  client_id: string,
  client_secret: string,
  previous_secrets_expire_at: time,
});
const secretProperties: Record<string, JsonSchema> = {
  id: string,
  state: { type: 'string', enum: ['active', 'expired', 'revoked'] },
  created_at: time,
  expires_at: nullableTime,
  revoked_at: nullableTime,
  last_used_at: { type: 'null' },
};
export const clientSecretSchema = object(secretProperties);
export const revokedSecretSchema = object({ client_id: string, ...secretProperties });

const userProperties: Record<string, JsonSchema> = {
  id: string,
  username: string,
  is_admin: boolean,
  has_totp: boolean,
  has_passkey: boolean,
  created_at: time,
  disabled_at: nullableTime,
  locked_at: nullableTime,
  locked_until: nullableTime,
  failed_logins: integer,
  failed_mfa: integer,
  scopes: { type: ['array', 'null'], items: string },
  must_change_password: boolean,
};
export const userSchema = object(userProperties);
const passkeySchema = object({
  id: string,
  name: string,
  device_type: { type: 'string', enum: ['singleDevice', 'multiDevice'] },
  transports: strings,
  created_at: time,
  last_used_at: nullableTime,
  disabled_at: nullableTime,
  disabled_reason: nullableString,
});
/** A person with their passkeys (never a public key), as `users show` prints them. */
export const userDetailSchema = object({
  ...userProperties,
  passkeys: { type: 'array', items: passkeySchema },
});
export const createdUserSchema = object(
  { ...userProperties, password: string, totp_secret: string, totp_uri: string },
  ['password', 'totp_secret', 'totp_uri'],
);
export const disabledUserSchema = object({ ...userProperties, revoked_families: integer });
export const passwordSetSchema = object({ ...userProperties, password: string }, ['password']);
export const sessionSchema = object({
  family_id: string,
  client_id: string,
  scopes: strings,
  created_at: time,
  last_used_at: nullableTime,
  expires_at: time,
});
export const revokedSessionsSchema = object({ user: string, revoked_families: integer });

const apiKeyProperties: Record<string, JsonSchema> = {
  id: string,
  name: string,
  owner: string,
  owner_type: { type: 'string', enum: ['client', 'user'] },
  owner_id: string,
  scopes: strings,
  state: { type: 'string', enum: ['active', 'expired', 'revoked', 'exhausted', 'owner_disabled'] },
  created_at: time,
  expires_at: time,
  cidrs: { type: ['array', 'null'], items: string },
  max_uses: nullableInteger,
  uses: integer,
  rate_limit: nullableInteger,
  created_by: nullableString,
  created_from: nullableString,
  last_used_at: nullableTime,
  last_used_ip: nullableString,
  revoked_at: nullableTime,
  revoked_reason: nullableString,
  predecessor_id: nullableString,
  successor_id: nullableString,
  minted_by_jti: nullableString,
};
export const apiKeySchema = object(apiKeyProperties);
export const createdApiKeySchema = object({ ...apiKeyProperties, key: string });
export const rotatedApiKeySchema = object({ ...apiKeyProperties, key: string, predecessor: apiKeySchema });

const federationProperties: Record<string, JsonSchema> = {
  id: string,
  name: string,
  client_id: string,
  issuer: string,
  audience: string,
  conditions: { type: 'array', items: object({ claim: string, pattern: string }) },
  jwks_uri: nullableString,
  has_jwks: boolean,
  key_source: { type: 'string', enum: ['inline', 'jwks_uri', 'discovery'] },
  scopes: strings,
  max_ttl: integer,
  preset: nullableString,
  created_at: time,
  created_by: nullableString,
  disabled_at: nullableTime,
};
export const federationSchema = object(federationProperties);
export const federationWithWarningsSchema = object({ ...federationProperties, warnings: strings });
export const federationTestSchema = object({
  id: string,
  pass: boolean,
  conditions: { type: 'array', items: object({ name: string, pass: boolean, detail: string }) },
});

export const auditRecordSchema = object(
  {
    at: time,
    event: string,
    outcome: string,
    actor_type: string,
    actor_id: nullableString,
    actor_name: nullableString,
    client_id: nullableString,
    ip: nullableString,
    user_agent: nullableString,
    detail: { type: 'object' },
    segment: string,
    seq: integer,
    prev_hash: string,
    hash: string,
    verified: boolean,
  },
  ['verified'],
);
export const auditVerifySchema = object(
  {
    ok: boolean,
    records: integer,
    segments: integer,
    seals: integer,
    unsealed: integer,
    stale_unsealed: integer,
    anchored: integer,
    broken: object({ where: string, reason: string }),
  },
  ['anchored', 'broken'],
);

const signingKeyProperties: Record<string, JsonSchema> = {
  kid: string,
  alg: string,
  status: { type: 'string', enum: ['next', 'signing', 'published', 'expired'] },
  activates_at: time,
  retires_at: time,
  expires_at: time,
  created_at: time,
};
export const signingKeySchema = object(signingKeyProperties);
export const signingKeysRotatedSchema = object({
  withdraw_now: boolean,
  withdrawn: { type: 'array', items: object({ kid: string, alg: string, withdrawn_at: time }) },
  created: { type: 'array', items: signingKeySchema },
});

const idpProperties: Record<string, JsonSchema> = {
  id: string,
  name: string,
  issuer: string,
  client_id: string,
  scopes: strings,
  claims: object({ username: string, email: string, groups: string }),
  allowed_groups: { type: ['array', 'null'], items: string },
  mfa_from_amr: boolean,
  acr_values: strings,
  local_passwords: boolean,
  session_lifetime_seconds: integer,
  created_at: time,
  updated_at: time,
  links: integer,
};
/** An identity provider: never its client secret. */
export const idpSchema = object(idpProperties, ['links']);
export const idpLinkSchema = object({
  idp: string,
  upstream_issuer: string,
  upstream_subject: string,
  user_id: string,
  username: string,
  disabled: boolean,
  created_at: time,
  last_sign_in_at: nullableTime,
});
export const deletedIdpSchema = object({
  id: string,
  name: string,
  deleted: { type: 'boolean', const: true },
  unlinked: integer,
  revoked_families: integer,
});
export const unlinkedSchema = object({
  unlinked: { type: 'boolean', const: true },
  revoked_families: integer,
});

const perTable = object(Object.fromEntries(HASHED_SECRET_TABLES.map((t) => [t, integer])));
const hashingSchema: JsonSchema = {
  type: 'array',
  items: object({ version: integer, current: boolean, live: perTable, total: integer }),
};
export const kekStatusSchema = object({
  kek_in_use: string,
  kek_configured: string,
  rotation_pending: boolean,
  hashing: hashingSchema,
  hashes_under_older_versions: integer,
});
export const hashRetirementSchema = object({ retired: integer, revoked: perTable, hashing: hashingSchema });

const severity: JsonSchema = { type: 'string', enum: [...severities] };
export const postureFindingSchema = object(
  {
    id: string,
    severity,
    title: string,
    detail: string,
    references: strings,
    fix: string,
    client_id: string,
    user: string,
    key_id: string,
    federation_id: string,
  },
  ['client_id', 'user', 'key_id', 'federation_id'],
);
export const postureReportSchema = object({
  generated_at: time,
  policy: object({
    rotation_age: string,
    unused: string,
    expiry_warning: string,
    stale_sign_in: string,
    window: string,
  }),
  summary: object({
    score: { type: 'integer', minimum: 0, maximum: 100 },
    counts: object(Object.fromEntries(severities.map((s) => [s, integer]))),
    credentials: {
      type: 'array',
      items: object({
        kind: { type: 'string', enum: [...credentialKinds] },
        by_age: object(Object.fromEntries(ageBands.map((b) => [b.key, integer]))),
      }),
    },
  }),
  findings: { type: 'array', items: postureFindingSchema },
});

/** The named representations, as the OpenAPI document's components refer to them. */
export const namedSchemas: Record<string, JsonSchema> = {
  Problem: problemSchema,
  Client: clientSchema,
  CreatedClient: createdClientSchema,
  RotatedClientSecret: rotatedSecretSchema,
  ClientSecret: clientSecretSchema,
  RevokedClientSecret: revokedSecretSchema,
  User: userSchema,
  CreatedUser: createdUserSchema,
  DisabledUser: disabledUserSchema,
  UserWithPassword: passwordSetSchema,
  Session: sessionSchema,
  RevokedSessions: revokedSessionsSchema,
  ApiKey: apiKeySchema,
  CreatedApiKey: createdApiKeySchema,
  RotatedApiKey: rotatedApiKeySchema,
  Federation: federationSchema,
  FederationWithWarnings: federationWithWarningsSchema,
  FederationTest: federationTestSchema,
  AuditRecord: auditRecordSchema,
  AuditVerification: auditVerifySchema,
  SigningKey: signingKeySchema,
  SigningKeysRotated: signingKeysRotatedSchema,
  IdentityProvider: idpSchema,
  IdentityProviderLink: idpLinkSchema,
  DeletedIdentityProvider: deletedIdpSchema,
  Unlinked: unlinkedSchema,
  KekStatus: kekStatusSchema,
  HashRetirement: hashRetirementSchema,
  PostureFinding: postureFindingSchema,
  PostureReport: postureReportSchema,
};
