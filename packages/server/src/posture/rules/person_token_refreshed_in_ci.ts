/**
 * A person's tokens refreshed from a CI runner: a pipeline acting with someone's identity (their login
 * copied into the job), which outlives their approval and hides who did what. Recognised by the
 * User-Agent the SDK sends on refresh (`… ci/VENDOR`; see the SDK's user_agent.ts).
 */
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

/** The CI vendor a User-Agent names (`ci/github-actions`), or undefined. */
export function ciOfUserAgent(userAgent: string | null): string | undefined {
  return userAgent?.match(/(?:^|\s)ci\/([A-Za-z0-9._-]{1,40})(?:\s|$)/)?.[1];
}

export const personTokenRefreshedInCi: PostureRule = {
  id: 'person-token-refreshed-in-ci',
  title: "Person's token refreshed from CI",
  help: "A person's refresh token was used from a CI runner (the refresh's User-Agent names a CI vendor). A pipeline should have its own identity (a federation), never a person's login: sign the person out everywhere and give the pipeline a federation.",
  severity: 'high',
  references: ruleReferences['person-token-refreshed-in-ci'],
  evaluate(snapshot) {
    const byUser = new Map<
      string,
      { count: number; vendor: string; last: (typeof snapshot.audit.refreshes)[number] }
    >();
    for (const refresh of snapshot.audit.refreshes) {
      const vendor = ciOfUserAgent(refresh.userAgent);
      // Signed out since (the fix): that login no longer works anywhere.
      if (!vendor || refresh.familyRevoked) continue;
      const seen = byUser.get(refresh.userId);
      byUser.set(refresh.userId, { count: (seen?.count ?? 0) + 1, vendor, last: refresh });
    }
    return [...byUser].map(([userId, { count, vendor, last }]) => {
      const username = snapshot.usernames.get(userId) ?? userId;
      return findingOf(
        personTokenRefreshedInCi,
        { user: username, ...(last.clientId ? { client_id: last.clientId } : {}) },
        {
          detail: `${username}'s tokens were refreshed ${count === 1 ? 'once' : `${count} times`} from CI (${vendor}), last ${new Date(last.at).toISOString()}${last.ip ? ` from ${last.ip}` : ''}`,
          fix: `clavis admin users revoke-sessions ${username} --yes`,
        },
      );
    });
  },
};
