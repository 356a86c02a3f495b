/** What every rule does the same way: a finding carrying the rule's id, title and references. */
import type { Finding, FindingSubject, PostureRule, Severity } from './finding.js';

export function findingOf(
  rule: Pick<PostureRule, 'id' | 'title' | 'severity' | 'references'>,
  subject: FindingSubject,
  what: { detail: string; fix: string; severity?: Severity },
): Finding {
  return {
    id: rule.id,
    severity: what.severity ?? rule.severity,
    title: rule.title,
    detail: what.detail,
    ...subject,
    references: rule.references,
    fix: what.fix,
  };
}

/** `key_… (name) of OWNER`, the name left out when it is only the id again. */
export function describeKey(key: { id: string; name: string; owner: string }): string {
  return `${key.id}${key.name && key.name !== key.id ? ` (${key.name})` : ''} of ${key.owner}`;
}
