/** An enabled client that got no token (and whose keys were not used) for the `unused` time. */
import { CLI_CLIENT_ID } from '../../clients/client.js';
import { days, type PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const clientUnused: PostureRule = {
  id: 'client-unused',
  title: 'Client unused for long',
  help: 'An enabled client that was issued no token, and whose API keys were not used, for the unused threshold. Disable it (reversible); delete it once nobody claims it.',
  severity: 'low',
  references: ruleReferences['client-unused'],
  evaluate(snapshot, policy, now) {
    return snapshot.clients.flatMap((client) => {
      if (client.id === CLI_CLIENT_ID) return [];
      const keyUses = snapshot.apiKeys
        .filter((k) => k.owner_type === 'client' && k.owner_id === client.id)
        .map((k) => k.last_used_at ?? 0);
      const lastToken = snapshot.audit.lastTokenAt.get(client.id);
      const last = Math.max(lastToken ?? 0, ...keyUses);
      const since = last > 0 ? last : client.createdAt;
      if (now - since < policy.unusedMs) return [];
      return [
        findingOf(
          clientUnused,
          { client_id: client.id },
          {
            detail:
              last > 0
                ? `${client.id} (${client.name}) last got a token ${days(now - last)} ago`
                : `${client.id} (${client.name}) never got a token (created ${days(now - client.createdAt)} ago)`,
            fix: `clavis admin clients disable ${client.id} --yes`,
          },
        ),
      ];
    });
  },
};
