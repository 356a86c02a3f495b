/**
 * A person linked to an identity provider who has not signed in through it for the stale threshold: the
 * offboarding review `clavis admin idps stale` prints, as a finding. People who left still hold a link
 * (and perhaps a local password or live sessions) until someone removes it.
 */
import { days, type PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const idpLinkedPersonStale: PostureRule = {
  id: 'idp-linked-person-stale',
  title: 'Person linked to an identity provider not signed in for long',
  help: 'An enabled person linked to an identity provider has not signed in through it for the stale sign-in threshold (default 90 days, as clavis admin idps stale). Confirm they still need access; unlink them (their sessions end), or disable them if they left.',
  severity: 'low',
  references: ruleReferences['idp-linked-person-stale'],
  evaluate(snapshot, policy, now) {
    return snapshot.idpLinks.flatMap((link) => {
      const since = link.lastSignInAt ?? link.createdAt;
      if (now - since < policy.staleSignInMs) return [];
      return [
        findingOf(
          idpLinkedPersonStale,
          { user: link.username },
          {
            detail:
              link.lastSignInAt === null
                ? `${link.username} never signed in through ${link.idpName} (linked ${days(now - link.createdAt)} ago)`
                : `${link.username} last signed in through ${link.idpName} ${days(now - link.lastSignInAt)} ago`,
            fix: `clavis admin idps unlink ${link.idpName} --subject ${link.subject} --yes`,
          },
        ),
      ];
    });
  },
};
