/**
 * A service principal (a confidential client with the client-credentials grant) that authenticates with
 * a shared secret, where `private_key_jwt` or a workload-identity federation would leave no secret to
 * store, leak or rotate.
 */
import { GrantType } from '@clavis/core';
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { findingOf } from '../rule.js';

export const sharedSecretServicePrincipal: PostureRule = {
  id: 'shared-secret-service-principal',
  title: 'Service principal on a shared secret',
  help: 'A service principal that authenticates with a client secret. A workload in CI or Kubernetes can use a federation (its platform token is the credential), anything else private_key_jwt; then revoke the secrets.',
  severity: 'medium',
  references: ruleReferences['shared-secret-service-principal'],
  evaluate(snapshot) {
    return snapshot.clients.flatMap((client) => {
      if (client.kind !== 'confidential' || !client.grantTypes.includes(GrantType.ClientCredentials))
        return [];
      const secrets = snapshot.clientSecrets.filter((s) => s.client_id === client.id);
      const oldest = secrets[0];
      if (!oldest) return [];
      const federated = snapshot.federations.some((f) => f.clientId === client.id);
      return [
        findingOf(
          sharedSecretServicePrincipal,
          { client_id: client.id },
          {
            detail: federated
              ? `${client.id} (${client.name}) has a federation but still ${secrets.length === 1 ? 'a live secret' : `${secrets.length} live secrets`}`
              : `${client.id} (${client.name}) authenticates with ${secrets.length === 1 ? 'a shared secret' : `${secrets.length} shared secrets`}`,
            fix: federated
              ? `clavis admin clients secrets revoke ${client.id} ${oldest.id} --yes`
              : `clavis admin federations create --client ${client.id} --preset PRESET --audience AUDIENCE --claim sub=SUBJECT`,
          },
        ),
      ];
    });
  },
};
