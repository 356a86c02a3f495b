/**
 * Automatic revocation of idle keys: a live key unused (or, never used, created) longer than
 * `apiKeyIdleRevokeSeconds` is revoked with reason `idle`. Safe with several instances sweeping at once:
 * each key is revoked by one guarded UPDATE, in the transaction of its own audit record, so it is revoked
 * and audited exactly once. Expired keys are left alone: they already stopped.
 */
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import type { Database } from '../storage/schema.js';
import { findIdleApiKeys, revokeIfIdle } from './api_key_store.js';

/** Keys handled per sweep; the rest wait for the next run. */
const BATCH = 1000;

export interface IdleSweepDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  clock: () => number;
}

/** Revokes idle keys; returns the ids this call revoked. */
export async function sweepIdleApiKeys(deps: IdleSweepDeps, idleSeconds: number): Promise<string[]> {
  const now = deps.clock();
  const cutoff = now - idleSeconds * 1000;
  const revoked: string[] = [];
  for (const id of await findIdleApiKeys(deps.db, cutoff, now, BATCH)) {
    const done = await deps.audit.transact(
      (tx) => revokeIfIdle(tx, id, cutoff, now),
      (changed) =>
        changed
          ? {
              event: 'api_key.idle_revoke',
              actor: { type: 'system', id: 'idle-sweep' },
              detail: { api_key_id: id, reason: 'idle', idle_seconds: idleSeconds },
            }
          : null,
    );
    if (done) revoked.push(id);
  }
  return revoked;
}
