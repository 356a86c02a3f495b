/** The audit log in tests: the records of one event, and verification of the whole chain. */
import {
  type AuditVerifyOptions,
  type AuditVerifyResult,
  type Services,
  verifyAuditLog,
} from '@clavis/server';

/** Anything holding the services (a TestServer, a PagesServer, a RunningServer). */
interface AuditHost {
  services: Pick<Services, 'db' | 'audit' | 'auditKey'>;
}

/** The records of `event`, oldest first, once everything queued is written; `detail` parsed. */
export async function auditRecords(server: { services: Pick<Services, 'db' | 'audit'> }, event: string) {
  await server.services.audit.drain();
  const rows = await server.services.db
    .selectFrom('audit_events')
    .selectAll()
    .where('event', '=', event)
    .orderBy('segment')
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
}

/** Verifies the server's whole audit chain with its own key (what `clavis admin audit verify` does). */
export function verifyChain(server: AuditHost, options?: AuditVerifyOptions): Promise<AuditVerifyResult> {
  return verifyAuditLog(server.services.db, server.services.auditKey, options);
}
