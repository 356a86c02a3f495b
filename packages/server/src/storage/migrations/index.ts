import type { Migration, MigrationProvider } from 'kysely/migration';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_device_flow.js';
import * as m0003 from './0003_api_keys.js';
import * as m0004 from './0004_federations.js';
import * as m0005 from './0005_audit_accounting.js';
import * as m0006 from './0006_sign_in_lockout.js';
import * as m0007 from './0007_username_case_insensitive.js';
import * as m0008 from './0008_authentication_context.js';
import * as m0010 from './0010_idempotency_keys.js';
import * as m0011 from './0011_identity_providers.js';
import * as m0012 from './0012_passkeys.js';
import * as m0013 from './0013_device_code_by_id.js';
import * as m0014 from './0014_session_tokens_hashed.js';
import * as m0015 from './0015_user_codes_at_rest.js';
import * as m0016 from './0016_idempotency_hash_keyed.js';

/** Every migration, in order. Both dialects run the same list. */
export const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_device_flow': m0002,
  '0003_api_keys': m0003,
  '0004_federations': m0004,
  '0005_audit_accounting': m0005,
  '0006_sign_in_lockout': m0006,
  '0007_username_case_insensitive': m0007,
  '0008_authentication_context': m0008,
  '0010_idempotency_keys': m0010,
  '0011_identity_providers': m0011,
  '0012_passkeys': m0012,
  '0013_device_code_by_id': m0013,
  '0014_session_tokens_hashed': m0014,
  '0015_user_codes_at_rest': m0015,
  '0016_idempotency_hash_keyed': m0016,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
