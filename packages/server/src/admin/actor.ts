/** Who performs an administrative change, and the audit fields that say so. */
import type { ActorType, AuditEntry } from '../audit/events.js';

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
