/** A live API key not used for the policy's `unused` time: a credential nobody needs is one to lose. */
import { days, type PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { describeKey, findingOf } from '../rule.js';

export const apiKeyUnused: PostureRule = {
  id: 'api-key-unused',
  title: 'API key unused',
  help: 'A live API key that has not been used for the unused threshold (or never, since it was created that long ago). Keys nobody uses are forgotten, not offboarded: revoke them.',
  severity: 'medium',
  references: ruleReferences['api-key-unused'],
  evaluate(snapshot, policy, now) {
    return snapshot.apiKeys.flatMap((key) => {
      const last = key.last_used_at ?? key.created_at;
      if (now - last < policy.unusedMs) return [];
      const when =
        key.last_used_at === null
          ? `never used (created ${days(now - key.created_at)} ago)`
          : `last used ${days(now - key.last_used_at)} ago`;
      return [
        findingOf(
          apiKeyUnused,
          { key_id: key.id },
          {
            detail: `key ${describeKey(key)}: ${when}`,
            fix: `clavis admin keys revoke ${key.id} --yes`,
          },
        ),
      ];
    });
  },
};
