/** Every posture rule, in the order the reports list them. */
import type { PostureRule } from '../finding.js';
import { adminWithoutMfa } from './admin_without_mfa.js';
import { apiKeyBroadScopes } from './api_key_broad_scopes.js';
import { apiKeyLeaked } from './api_key_leaked.js';
import { apiKeyNearExpiry } from './api_key_near_expiry.js';
import { apiKeyPastRotationAge } from './api_key_past_rotation_age.js';
import { apiKeyUnused } from './api_key_unused.js';
import { assertionAudiencePermissive } from './assertion_audience_permissive.js';
import { auditChainBroken } from './audit_chain_broken.js';
import { clientSecretPastRotationAge } from './client_secret_past_rotation_age.js';
import { clientUnused } from './client_unused.js';
import { federationOrgWide } from './federation_org_wide.js';
import { federationWithoutRef } from './federation_without_ref.js';
import { idpLinkedPersonStale } from './idp_linked_person_stale.js';
import { keyWithoutIpAllowList } from './key_without_ip_allow_list.js';
import { personTokenRefreshedInCi } from './person_token_refreshed_in_ci.js';
import { principalWithoutOwner } from './principal_without_owner.js';
import { sharedSecretServicePrincipal } from './shared_secret_service_principal.js';

export const postureRules: readonly PostureRule[] = [
  auditChainBroken,
  adminWithoutMfa,
  apiKeyLeaked,
  personTokenRefreshedInCi,
  federationOrgWide,
  federationWithoutRef,
  sharedSecretServicePrincipal,
  clientSecretPastRotationAge,
  apiKeyPastRotationAge,
  apiKeyBroadScopes,
  keyWithoutIpAllowList,
  apiKeyUnused,
  apiKeyNearExpiry,
  clientUnused,
  idpLinkedPersonStale,
  principalWithoutOwner,
  assertionAudiencePermissive,
];
