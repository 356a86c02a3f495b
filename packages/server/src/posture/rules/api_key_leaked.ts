/**
 * An API key reported leaked (the leak endpoint revoked it) within the policy window: the copy is still
 * wherever it leaked, and whatever used the key now needs another.
 */
import { days, type PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const apiKeyLeaked: PostureRule = {
  id: 'api-key-leaked',
  title: 'API key reported leaked',
  help: 'An API key was reported to the leak endpoint (by a secret scanner or clavis scan --report) and revoked. Find and remove the copy where it leaked, and issue what uses it a new, narrower key — or a federation.',
  severity: 'high',
  references: ruleReferences['api-key-leaked'],
  evaluate(snapshot, _policy, now) {
    return snapshot.audit.leaks.map((leak) => {
      const key = snapshot.leakedKeys.get(leak.keyId);
      const where = leak.url ?? leak.source;
      const fix = key
        ? `clavis admin keys create --owner ${key.owner} ${key.scopes.map((s) => `--scope ${s}`).join(' ')} --ttl 30d --cidr CIDR`
        : `clavis admin keys show ${leak.keyId}`;
      return findingOf(
        apiKeyLeaked,
        { key_id: leak.keyId },
        {
          detail: `key ${leak.keyId}${key ? ` of ${key.owner}` : ''} was reported leaked ${days(now - leak.at)} ago${where ? ` (${where})` : ''} and revoked`,
          fix,
        },
      );
    });
  },
};
