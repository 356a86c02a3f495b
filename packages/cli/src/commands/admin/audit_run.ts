/** The work of `clavis admin audit list|verify`. */
import { existsSync } from 'node:fs';
import { defaultAuditAnchorFile, listAudit, readAnchor, verifyAuditLog } from '@clavis/server';
import { CliError } from '../../errors.js';
import { type Env, writeJson, writeLine } from '../../io.js';
import { type AdminRunDeps, type AdminTarget, adminDbUrl } from './context.js';

export interface AuditListOptions extends AdminTarget {
  limit?: number | undefined;
  event?: string | undefined;
  /** Only records about this client id. */
  client?: string | undefined;
  json?: boolean | undefined;
}

export interface AuditVerifyOptions extends AdminTarget {
  /** Anchor files; without any, CLAVIS_AUDIT_ANCHOR or the server's default anchor when it exists. */
  anchor?: string[] | undefined;
  /** Seconds. */
  maxUnsealedAge?: number | undefined;
  json?: boolean | undefined;
}

export async function runAuditList(
  options: AuditListOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'openAdmin'>,
): Promise<void> {
  await deps.openAdmin(options, async ({ services }) => {
    const records = await listAudit(
      services.db,
      {
        ...(options.limit ? { limit: options.limit } : {}),
        ...(options.event ? { event: options.event } : {}),
        ...(options.client ? { clientId: options.client } : {}),
      },
      services.auditKey,
    );
    if (options.json) return writeJson(deps, records);
    for (const r of records) {
      const who = `${r.actor_type}${r.actor_id ? `:${r.actor_id}` : ''}`;
      // A record outside the verified chain (forged, or written behind Clavis's back) is flagged.
      writeLine(
        deps.stdout,
        `${r.verified === false ? 'UNVERIFIED ' : ''}${r.at}  ${r.event.padEnd(20)} ${r.outcome.padEnd(8)} ${who.padEnd(30)} ${r.ip ?? '-'}  ${JSON.stringify(r.detail)}`,
      );
    }
  });
}

/** Prints the result; a broken chain is a CliError (exit 1) naming the first broken record. */
export async function runAuditVerify(
  options: AuditVerifyOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'env' | 'clock' | 'openAdmin'>,
): Promise<void> {
  // Read before opening the database: a missing or malformed anchor is an error of its own.
  const files = options.anchor ?? implicitAnchor(deps.env, options);
  const anchors = files ? await Promise.all(files.map((file) => readAnchor(file))) : undefined;
  const result = await deps.openAdmin(options, ({ services }) =>
    verifyAuditLog(services.db, services.auditKey, {
      ...(anchors ? { anchors } : {}),
      now: deps.clock(),
      ...(options.maxUnsealedAge !== undefined ? { maxUnsealedAgeMs: options.maxUnsealedAge * 1000 } : {}),
    }),
  );
  if (options.json) writeJson(deps, result);
  else if (result.ok) {
    writeLine(
      deps.stdout,
      `audit log intact: ${result.records} records in ${result.segments} segments, ${result.seals} seals (${result.unsealed} records not yet sealed)`,
    );
    if (result.anchored !== undefined) {
      writeLine(
        deps.stdout,
        `${result.anchored} anchored seals found in the database unchanged (${files?.join(', ')})`,
      );
    } else {
      writeLine(
        deps.stdout,
        'no anchor file: deleting the newest records would go unnoticed, and seal signatures were not checked (--anchor FILE)',
      );
    }
  }
  if (!result.ok && result.broken) {
    throw new CliError(`audit log broken at ${result.broken.where}: ${result.broken.reason}`);
  }
}

/**
 * The anchor `verify` reads when none is named: `CLAVIS_AUDIT_ANCHOR` (which must exist), else the
 * anchor `serve` keeps by default for this database, when it is there (a database served elsewhere has
 * its anchor on that machine).
 */
function implicitAnchor(env: Env, target: AdminTarget): string[] | undefined {
  if (env.CLAVIS_AUDIT_ANCHOR) return [env.CLAVIS_AUDIT_ANCHOR];
  let file: string | undefined;
  try {
    file = defaultAuditAnchorFile(adminDbUrl(env, target), env.CLAVIS_KEK_FILE);
  } catch {
    return undefined; // a malformed --db is reported when the database is opened
  }
  return file && existsSync(file) ? [file] : undefined;
}
