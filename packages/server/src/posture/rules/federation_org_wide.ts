/**
 * A federation that trusts a whole organisation: a wildcard repository condition accepted with
 * `--allow-org-wide` and no `sub` condition, so every repository it matches — new ones any member
 * creates included — can act as the principal.
 */

import { isGlob } from '../../federation/glob.js';
import { isPresetName, presets } from '../../federation/presets.js';
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const federationOrgWide: PostureRule = {
  id: 'federation-org-wide',
  title: 'Federation pinned org-wide',
  help: 'A federation whose repository condition is a wildcard (accepted with --allow-org-wide) and which has no sub condition: every repository the pattern matches, including new ones any member can create, can act as the service principal. Name the repository exactly.',
  severity: 'high',
  references: ruleReferences['federation-org-wide'],
  evaluate(snapshot) {
    return snapshot.federations.flatMap((federation) => {
      const preset =
        federation.preset && isPresetName(federation.preset) ? presets[federation.preset] : undefined;
      const repoClaim = preset?.repositoryClaim;
      if (!repoClaim) return [];
      const repo = federation.conditions.find((c) => c.claim === repoClaim);
      const sub = federation.conditions.find((c) => c.claim === 'sub');
      if (!repo || !isGlob(repo.pattern) || sub) return [];
      const claims = federation.conditions
        .map((c) => `--claim ${c.claim}=${c.claim === repoClaim ? 'OWNER/REPO' : c.pattern}`)
        .join(' ');
      return [
        findingOf(
          federationOrgWide,
          { federation_id: federation.id, client_id: federation.clientId },
          {
            detail: `${federation.id} (${federation.name}) trusts every ${repoClaim} matching ${repo.pattern}`,
            fix: `clavis admin federations update ${federation.id} ${claims}`,
          },
        ),
      ];
    });
  },
};
