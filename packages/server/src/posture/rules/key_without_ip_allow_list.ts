/** A live API key usable from anywhere: a leaked copy works from an attacker's network too. */
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { describeKey, findingOf } from '../rule.js';

export const keyWithoutIpAllowList: PostureRule = {
  id: 'key-without-ip-allow-list',
  title: 'API key without an IP allow-list',
  help: 'A live API key with no IP allow-list works from any network, so a leaked copy works for whoever finds it. Restrict it to the networks it is used from.',
  severity: 'medium',
  references: ruleReferences['key-without-ip-allow-list'],
  evaluate(snapshot) {
    return snapshot.apiKeys.flatMap((key) => {
      if (key.cidrs !== null && key.cidrs.length > 0) return [];
      const ip = key.last_used_ip;
      const cidr = ip ? `${ip}/${ip.includes(':') ? 128 : 32}` : 'CIDR';
      return [
        findingOf(
          keyWithoutIpAllowList,
          { key_id: key.id },
          {
            detail: `key ${describeKey(key)} may be used from any address${ip ? ` (last used from ${ip})` : ''}`,
            fix: `clavis admin keys update ${key.id} --cidr ${cidr}`,
          },
        ),
      ];
    });
  },
};
