/**
 * A federation that pins no branch, environment or workflow (`federationWarnings`): every branch, tag
 * and pull-request run of the repository can act as the principal.
 */
import { federationWarnings } from '../../admin/federations.js';
import { isPresetName, presets } from '../../federation/presets.js';
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const federationWithoutRef: PostureRule = {
  id: 'federation-without-ref',
  title: 'Federation without a ref',
  help: 'A GitHub, GitLab or Buildkite federation with no condition on the ref, environment or workflow (nor a sub naming one): every branch, tag and pull-request run of the repository is trusted. Pin the branch or the deployment environment.',
  severity: 'medium',
  references: ruleReferences['federation-without-ref'],
  evaluate(snapshot) {
    return snapshot.federations.flatMap((federation) => {
      const warnings = federationWarnings(federation);
      if (warnings.length === 0) return [];
      const preset =
        federation.preset && isPresetName(federation.preset) ? presets[federation.preset] : undefined;
      const pin = preset?.runPinClaims[0] ?? 'ref';
      const value = pin === 'ref' ? 'refs/heads/main' : pin === 'build_branch' ? 'main' : 'VALUE';
      const claims = [
        ...federation.conditions.map((c) => `--claim ${c.claim}=${c.pattern}`),
        `--claim ${pin}=${value}`,
      ].join(' ');
      return [
        findingOf(
          federationWithoutRef,
          { federation_id: federation.id, client_id: federation.clientId },
          {
            detail: `${federation.id} (${federation.name}): ${warnings.join('; ')}`,
            fix: `clavis admin federations update ${federation.id} ${claims}`,
          },
        ),
      ];
    });
  },
};
