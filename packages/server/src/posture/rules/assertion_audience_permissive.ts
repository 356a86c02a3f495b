/**
 * The server accepts `private_key_jwt` assertions addressed to its token endpoint as well as to its
 * issuer: an assertion made for one endpoint can be replayed at another that shares the URL. Read from
 * what the last `serve` recorded, else the reader's CLAVIS_ASSERTION_AUDIENCE, else the default.
 */
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const assertionAudiencePermissive: PostureRule = {
  id: 'assertion-audience-permissive',
  title: 'Permissive client-assertion audience',
  help: "The server accepts a private_key_jwt assertion whose aud is the token endpoint as well as the issuer (CLAVIS_ASSERTION_AUDIENCE=issuer-or-token-endpoint, the default for older clients). Once every client's library sends the issuer, accept only it. Medium when a client uses private_key_jwt, low otherwise.",
  severity: 'low',
  references: ruleReferences['assertion-audience-permissive'],
  evaluate(snapshot) {
    const { mode, source } = snapshot.assertionAudience;
    if (mode !== 'issuer-or-token-endpoint') return [];
    const users = snapshot.clients.filter((c) => c.authMethod === 'private_key_jwt').length;
    const where =
      source === 'serve'
        ? 'the server was last started with'
        : source === 'environment'
          ? 'CLAVIS_ASSERTION_AUDIENCE here says'
          : 'no server recorded its setting; the default is';
    return [
      findingOf(
        assertionAudiencePermissive,
        {},
        {
          detail: `${where} assertion audience ${mode}${users > 0 ? ` (${users} private_key_jwt ${users === 1 ? 'client' : 'clients'})` : ''}`,
          fix: 'clavis serve --assertion-audience issuer',
          severity: users > 0 ? 'medium' : 'low',
        },
      ),
    ];
  },
};
