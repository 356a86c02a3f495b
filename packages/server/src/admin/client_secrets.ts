/**
 * A client's secrets as administrators see them — id, created, expires, revoked, state; never the secret
 * or its hash — and revoking one at once (unlike a rotation, which leaves the old ones a grace period).
 * Every change commits with its audit record.
 */
import { listClientSecrets, revokeClientSecret as revokeClientSecretRow } from '../clients/client_store.js';
import { type Actor, actorFields, recordingRefusal } from './actor.js';
import { type AdminDeps, showClient } from './clients.js';
import { AdminError } from './errors.js';

export type ClientSecretState = 'active' | 'expired' | 'revoked';

export interface ClientSecretView {
  id: string;
  state: ClientSecretState;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  /** Not recorded per secret: the audit log's `token.issue` records say when the client was last used. */
  last_used_at: null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export async function listSecrets(
  deps: Pick<AdminDeps, 'db' | 'clock'>,
  clientId: string,
): Promise<ClientSecretView[]> {
  await showClient(deps, clientId);
  const now = deps.clock();
  const rows = await listClientSecrets(deps.db, clientId);
  return rows.map((r) => ({
    id: r.id,
    state:
      r.revoked_at !== null ? 'revoked' : r.expires_at !== null && r.expires_at <= now ? 'expired' : 'active',
    created_at: iso(r.created_at) ?? '',
    expires_at: iso(r.expires_at),
    revoked_at: iso(r.revoked_at),
    last_used_at: null,
  }));
}

/** Revokes one secret now: it stops authenticating at once, on every instance. */
export function revokeSecret(
  deps: AdminDeps,
  clientId: string,
  secretId: string,
  actor: Actor,
): Promise<ClientSecretView> {
  return recordingRefusal(
    deps.audit,
    { event: 'client.secret_revoke', actor, clientId, target: { secret_id: secretId.slice(0, 64) } },
    async () => {
      const before = await listSecrets(deps, clientId);
      const secret = before.find((s) => s.id === secretId);
      if (!secret)
        throw new AdminError(`client ${clientId} has no secret ${secretId.slice(0, 64)}`, 'not_found');
      await deps.audit.transact(
        async (tx) => {
          if (!(await revokeClientSecretRow(tx, clientId, secretId, deps.clock())))
            throw new AdminError(`secret ${secretId} is already revoked`, 'conflict');
        },
        {
          event: 'client.secret_revoke',
          ...actorFields(actor),
          clientId,
          detail: { secret_id: secretId, was: secret.state },
        },
      );
      const after = await listSecrets(deps, clientId);
      return after.find((s) => s.id === secretId) as ClientSecretView;
    },
  );
}
