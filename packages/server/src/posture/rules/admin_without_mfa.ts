/** An administrator who signs in with a password alone: one phished password gives away the server. */
import { CLI_CLIENT_ID } from '../../clients/client.js';
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const adminWithoutMfa: PostureRule = {
  id: 'admin-without-mfa',
  title: 'Administrator without a second factor',
  help: 'An enabled administrator has no second factor (TOTP). Require one for the CLI client: the administrator then enrols at the next clavis login.',
  severity: 'high',
  references: ruleReferences['admin-without-mfa'],
  evaluate(snapshot) {
    return snapshot.users
      .filter((u) => u.isAdmin && !u.hasSecondFactor)
      .map((user) =>
        findingOf(
          adminWithoutMfa,
          { user: user.username },
          {
            detail: `administrator ${user.username} has no second factor`,
            fix: `clavis admin clients update ${CLI_CLIENT_ID} --require-mfa`,
          },
        ),
      );
  },
};
