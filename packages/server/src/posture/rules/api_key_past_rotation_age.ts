/** A live API key older than the rotation policy, with no successor: a long-lived static secret. */
import { days, type PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { describeKey, findingOf } from '../rule.js';

export const apiKeyPastRotationAge: PostureRule = {
  id: 'api-key-past-rotation-age',
  title: 'API key older than the rotation policy',
  help: 'A live API key created longer ago than the rotation age, and not rotated yet. Rotate it: the successor is printed once and the old key keeps working for a grace period.',
  severity: 'medium',
  references: ruleReferences['api-key-past-rotation-age'],
  evaluate(snapshot, policy, now) {
    return snapshot.apiKeys.flatMap((key) =>
      key.successor_id === null && now - key.created_at > policy.rotationAgeMs
        ? [
            findingOf(
              apiKeyPastRotationAge,
              { key_id: key.id },
              {
                detail: `key ${describeKey(key)} is ${days(now - key.created_at)} old (policy: ${days(policy.rotationAgeMs)})`,
                fix: `clavis admin keys rotate ${key.id}`,
              },
            ),
          ]
        : [],
    );
  },
};
