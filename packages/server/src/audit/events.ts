/** The closed set of audit events, named `resource.verb`. */
export const auditEventNames = [
  'server.bootstrap',
  'user.create',
  'client.create',
  'client.delete',
  'client.secret_rotate',
  'client.update',
  'client.disable',
  'client.enable',
  'client.secret_revoke',
  'client.auth_failed',
  'token.issue',
  'token.revoke',
  'device.request',
  'token.refresh',
  'token.refresh_reuse',
  'token.family_revoke',
  'device.code_entered',
  'device.approve',
  'device.deny',
  'user.sign_in',
  'user.sign_in_failed',
  'user.mfa_passed',
  'user.mfa_failed',
  'user.mfa_enrolled',
  // A passkey's signature counter went back: a cloned authenticator; the passkey is disabled.
  'user.passkey_clone',
  // A person renamed or removed one of their own passkeys on the verification pages.
  'user.passkey_rename',
  'user.passkey_remove',
  // A person signed out of the verification pages.
  'user.sign_out',
  'user.locked',
  'user.disable',
  'user.reset_mfa',
  'user.unlock',
  'user.password_change',
  'user.enable',
  'user.set_password',
  'user.set_scopes',
  'user.revoke_sessions',
  'federation.create',
  'federation.delete',
  'federation.update',
  'federation.disable',
  'federation.enable',
  'federation.exchange_denied',
  'api_key.create',
  'api_key.rotate',
  'api_key.revoke',
  'api_key.update',
  'api_key.leaked',
  'api_key.leak_report',
  'api_key.idle_revoke',
  'api_key.mint',
  'api_key.use_denied',
  'api_key.use',
  // Signing keys: the first key of a slot that had none signing, and each successor made ahead.
  'signing_key.create',
  'signing_key.rotate',
  // An operator's: a new signing key now, the old ones withdrawn (suspected compromise).
  'signing_key.replace',
  // Day-two operations: a database snapshot taken; the sealed data moved to a new key-encryption key.
  'database.backup',
  'kek.rotate',
  // An older secret-hashing key version dropped (what still used it revoked with it, if asked).
  'kek.retire_hashes',
  // The admin HTTP API: every allowed call (the caller, its address, the token's jti), and every refusal.
  'admin_api.call',
  'admin_api.refuse',
  // Single sign-on: identity providers, and the links from an upstream iss + sub to a person.
  'idp.create',
  'idp.update',
  'idp.delete',
  'idp.link',
  'idp.unlink',
  // Sealed records archived to files and deleted from the database; the detail holds where each chain
  // now starts (see audit/archive.ts).
  'audit.prune',
] as const;

export type AuditEventName = (typeof auditEventNames)[number];

export type ActorType = 'client' | 'user' | 'admin' | 'system' | 'anonymous';

/**
 * A record of something that happened, or (outcome `failure`) was refused: an administrative change
 * refused is recorded under the change's own event name with outcome `failure` and the reason.
 */
export interface AuditEntry {
  event: AuditEventName;
  outcome?: 'success' | 'failure';
  actor: { type: ActorType; id?: string | null };
  clientId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** The request that caused it (its `X-Request-Id`), stored in the record's detail as `request_id`. */
  requestId?: string | null;
  /** Event-specific fields. Never a secret, a token or a password. */
  detail?: Record<string, unknown>;
}

/** Who acted and from where: filled from the request, or from the operator's machine for the CLI. */
export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
  /** The request's id (see http/request_id.ts); absent outside a request (the CLI). */
  requestId?: string | null;
}
