export * as adminApiKeys from './admin/api_keys.js';
export {
  AUDIT_PAGE_MAX,
  type AuditListOptions,
  type AuditPage,
  type AuditPosition,
  type AuditRecordView,
  auditCursor,
  listAudit,
  listAuditPage,
} from './admin/audit.js';
export * as adminBackup from './admin/backup.js';
export * as adminClientSecrets from './admin/client_secrets.js';
export * as adminClients from './admin/clients.js';
export { AdminError } from './admin/errors.js';
export * as adminFederations from './admin/federations.js';
export * as adminIdps from './admin/idps.js';
export * as adminKek from './admin/kek.js';
export * as adminSigningKeys from './admin/signing_keys.js';
export * as adminUsers from './admin/users.js';
export * as adminViews from './admin/views.js';
export { sweepIdleApiKeys } from './api_keys/idle_sweep.js';
export { buildApp } from './app.js';
export { type AuditAnchorContents, AuditAnchorError, readAnchor } from './audit/anchor.js';
export {
  type ArchiveManifest,
  type ArchiveVerifyResult,
  AuditArchiveError,
  archiveAudit,
  pruneAudit,
  verifyAuditArchive,
} from './audit/archive.js';
export { AuditKeyError } from './audit/audit_key.js';
export type { AuditEntry, AuditEventName } from './audit/events.js';
export { auditEventNames } from './audit/events.js';
export {
  type AuditVerifyOptions,
  type AuditVerifyResult,
  DEFAULT_MAX_UNSEALED_AGE_MS,
  verifyAuditLog,
} from './audit/verify.js';
export { CLI_CLIENT_ID, type Client, clientView } from './clients/client.js';
export {
  ConfigError,
  defaults as configDefaults,
  type PageLogo,
  resolveConfig,
  type ServerConfig,
} from './config.js';
export { KekError } from './crypto/kek.js';
export { type Federation, federationView } from './federation/federation.js';
export { presetNames } from './federation/presets.js';
export { isLoopbackHost } from './http/loopback.js';
export { logoContentType, MAX_LOGO_BYTES } from './pages/trust.js';
export * as posture from './posture/index.js';
export { bootstrap } from './runtime/bootstrap.js';
export { createLogger, type RunningServer, type ServeOptions, startServer } from './runtime/serve.js';
export {
  archiveChainKey,
  defaultAuditAnchorFile,
  openServices,
  type Services,
  type ServicesOptions,
} from './runtime/services.js';
export {
  DatabaseMissingError,
  DatabaseUrlError,
  openDatabase,
  parseDatabaseUrl,
} from './storage/database.js';
export { type SigningAlg, signingAlgs } from './tokens/jws.js';
