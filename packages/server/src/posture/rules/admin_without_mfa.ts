/** An administrator who signs in with a password alone: one phished password gives away the server. */
import { CLI_CLIENT_ID } from '../../clients/client.js';
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const adminWithoutMfa: PostureRule = {
  id: 'admin-without-mfa',
  title: 'Administrator without a second factor',
  help: 'An enabled administrator has no second factor (neither TOTP nor a usable passkey). The CLI client requires one by default, so the administrator enrols at their next clavis login; if that requirement was turned off, turn it back on.',
  severity: 'high',
  references: ruleReferences['admin-without-mfa'],
  evaluate(snapshot) {
    // The CLI's own client makes a person without a second factor enrol one at sign-in, unless that was
    // turned off: then turning it back on is the fix; otherwise the administrator signing in is.
    const cliEnrols = snapshot.clients.find((c) => c.id === CLI_CLIENT_ID)?.requireMfa === true;
    return snapshot.users
      .filter((u) => u.isAdmin && !u.hasSecondFactor)
      .map((user) =>
        findingOf(
          adminWithoutMfa,
          { user: user.username },
          {
            detail: `administrator ${user.username} has no second factor${cliEnrols ? ' (enrolled at their next clavis login)' : ''}`,
            fix: cliEnrols ? 'clavis login' : `clavis admin clients update ${CLI_CLIENT_ID} --require-mfa`,
          },
        ),
      );
  },
};
