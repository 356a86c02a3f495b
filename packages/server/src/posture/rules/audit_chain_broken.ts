/** The audit chain does not verify: records were changed, removed, or left unsealed by a dead writer. */
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const auditChainBroken: PostureRule = {
  id: 'audit-chain-broken',
  title: 'Audit chain broken',
  help: 'The audit log does not verify (the same check as clavis admin audit verify): a record was changed or removed, or records were left unsealed. Nothing it records can be trusted until the cause is found.',
  severity: 'critical',
  references: ruleReferences['audit-chain-broken'],
  evaluate(snapshot) {
    const { chain } = snapshot.audit;
    if (chain.ok) return [];
    const why = chain.broken
      ? `at ${chain.broken.where}: ${chain.broken.reason}`
      : `${chain.stale_unsealed} records left unsealed`;
    return [
      findingOf(
        auditChainBroken,
        {},
        {
          detail: `the audit chain does not verify ${why}`,
          fix: 'clavis admin audit verify',
        },
      ),
    ];
  },
};
