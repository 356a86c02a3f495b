/** Who performs an administrative change, and the audit fields that say so. */
import type { AuditLog } from '../audit/audit_log.js';
import type { ActorType, AuditEntry, AuditEventName } from '../audit/events.js';
import { AdminError } from './errors.js';

export interface Actor {
  type: ActorType;
  id: string;
  ip?: string | null;
  userAgent?: string | null;
}

/** The `actor`, `ip` and `userAgent` of an audit entry for a change made by `actor`. */
export function actorFields(actor: Actor): Pick<AuditEntry, 'actor' | 'ip' | 'userAgent'> {
  return {
    actor: { type: actor.type, id: actor.id },
    ip: actor.ip ?? null,
    userAgent: actor.userAgent ?? null,
  };
}

/**
 * Runs an administrative change; when it is refused (`AdminError`: invalid, conflicting, not found),
 * records the refusal under the change's event with outcome `failure` and the reason, then rethrows.
 * `target` names what the change was about, as far as it is known.
 */
export async function recordingRefusal<T>(
  audit: AuditLog,
  refusal: {
    event: AuditEventName;
    actor: Actor;
    clientId?: string | null;
    target?: Record<string, unknown>;
  },
  change: () => Promise<T>,
): Promise<T> {
  try {
    return await change();
  } catch (err) {
    if (err instanceof AdminError) {
      await audit.record({
        event: refusal.event,
        outcome: 'failure',
        ...actorFields(refusal.actor),
        clientId: refusal.clientId ?? null,
        detail: { ...refusal.target, reason: err.code, message: err.message.slice(0, 300) },
      });
    }
    throw err;
  }
}
