/** A principal nobody answers for: when its team moves on, nobody offboards it. */
import { CLI_CLIENT_ID } from '../../clients/client.js';
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const principalWithoutOwner: PostureRule = {
  id: 'principal-without-owner',
  title: 'Principal without an owner',
  help: 'An enabled client (service principal or application) with no owner recorded. Name the person or team responsible, so that someone reviews and offboards it.',
  severity: 'low',
  references: ruleReferences['principal-without-owner'],
  evaluate(snapshot) {
    return snapshot.clients
      .filter((c) => c.id !== CLI_CLIENT_ID && (c.owner === null || c.owner.trim() === ''))
      .map((client) =>
        findingOf(
          principalWithoutOwner,
          { client_id: client.id },
          {
            detail: `${client.id} (${client.name}) has no owner`,
            fix: `clavis admin clients update ${client.id} --owner OWNER`,
          },
        ),
      );
  },
};
