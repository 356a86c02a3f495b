/** What the admin API's resources are built from: the use cases' deps, and the server's own parts. */
import type { KeyObject } from 'node:crypto';
import type { AdminDeps } from '../admin/clients.js';
import type { Kek, KekRing } from '../crypto/kek.js';
import type { IssuerKeys } from '../federation/issuer_keys.js';
import type { AssertionAudienceMode } from '../posture/served_settings.js';
import type { KeyStore } from '../tokens/signing_keys.js';

export interface ResourceDeps {
  /** The deps of the admin use cases, as the CLI builds them. */
  admin: AdminDeps;
  /** Seals TOTP secrets of people created here. */
  totpKey: Buffer;
  apiKeyMaxTtlSeconds: number;
  clockToleranceSeconds: number;
  keys: KeyStore;
  /** The audit chain's key: listed records say whether they hold their place in the chain. */
  auditKey: KeyObject;
  /** The anchor file this server appends its seals to, checked by `POST /audit/verify`. */
  auditAnchorFile?: string | undefined;
  issuerKeys: IssuerKeys;
  /** Seals identity providers' client secrets: the current KEK's `idp-sealing` key. */
  idpSealKey: Buffer;
  /** The KEK the database is under, and every configured one (current first): for `/kek`. */
  kek: { kek: Kek; kekRing: KekRing };
  /** What this server serves, for the posture report when the database has no record of it. */
  assertionAudience: AssertionAudienceMode;
}
