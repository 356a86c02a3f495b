/** A live client secret older than the rotation policy, not already being rotated out. */
import { days, type PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const clientSecretPastRotationAge: PostureRule = {
  id: 'client-secret-past-rotation-age',
  title: 'Client secret older than the rotation policy',
  help: 'A live client secret created longer ago than the rotation age. Rotate it (the old one keeps working for a grace period), or better, move the principal off shared secrets.',
  severity: 'medium',
  references: ruleReferences['client-secret-past-rotation-age'],
  evaluate(snapshot, policy, now) {
    return snapshot.clientSecrets.flatMap((secret) => {
      if (now - secret.created_at <= policy.rotationAgeMs) return [];
      // A secret with an end and a newer sibling is on its way out (a rotation's grace period).
      const newer = snapshot.clientSecrets.some(
        (s) => s.client_id === secret.client_id && s.created_at > secret.created_at,
      );
      if (newer && secret.expires_at !== null) return [];
      return [
        findingOf(
          clientSecretPastRotationAge,
          { client_id: secret.client_id },
          {
            detail: `secret ${secret.id} of ${secret.client_id} is ${days(now - secret.created_at)} old (policy: ${days(policy.rotationAgeMs)})`,
            fix: `clavis admin clients rotate-secret ${secret.client_id}`,
          },
        ),
      ];
    });
  },
};
