/** A live API key expiring within the warning time, with no successor yet: what uses it will break. */
import { days, type PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { describeKey, findingOf } from '../rule.js';

export const apiKeyNearExpiry: PostureRule = {
  id: 'api-key-near-expiry',
  title: 'API key near expiry',
  help: 'A live API key that expires within the expiry-warning time and has no successor. Rotate it (the successor overlaps the old key for a grace period) so that what uses it does not break.',
  severity: 'low',
  references: ruleReferences['api-key-near-expiry'],
  evaluate(snapshot, policy, now) {
    return snapshot.apiKeys.flatMap((key) =>
      key.successor_id === null && key.expires_at - now <= policy.expiryWarningMs
        ? [
            findingOf(
              apiKeyNearExpiry,
              { key_id: key.id },
              {
                detail: `key ${describeKey(key)} expires ${new Date(key.expires_at).toISOString()} (in ${days(key.expires_at - now)})`,
                fix: `clavis admin keys rotate ${key.id}`,
              },
            ),
          ]
        : [],
    );
  },
};
