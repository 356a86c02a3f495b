/** `clavis admin audit list|verify`. */
import { existsSync } from 'node:fs';
import {
  DEFAULT_MAX_UNSEALED_AGE_MS,
  defaultAuditAnchorFile,
  listAudit,
  readAnchor,
  verifyAuditLog,
} from '@clavis/server';
import type { Command } from 'commander';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import { collect, duration, positiveInt } from '../../options.js';
import { type AdminGlobalOptions, adminDbUrl, adminOptions, withAdmin } from './context.js';

export function registerAudit(admin: Command, io: Io): void {
  const audit = admin.command('audit').description('the tamper-evident audit log');

  audit
    .command('list')
    .description('recent audit records, newest first (UNVERIFIED marks a record outside the chain)')
    .option('--limit <n>', 'how many (default 100)', positiveInt)
    .option('--event <name>', 'only this event, e.g. token.issue')
    .option('--client <client_id>', 'only records about this client')
    .option('--json', 'print JSON')
    .action(
      async (
        options: { limit?: number; event?: string; client?: string; json?: boolean },
        command: Command,
      ) => {
        await withAdmin(io, adminOptions(command), async ({ services }) => {
          const records = await listAudit(
            services.db,
            {
              ...(options.limit ? { limit: options.limit } : {}),
              ...(options.event ? { event: options.event } : {}),
              ...(options.client ? { clientId: options.client } : {}),
            },
            services.auditKey,
          );
          if (options.json) return writeJson(io, records);
          for (const r of records) {
            const who = `${r.actor_type}${r.actor_id ? `:${r.actor_id}` : ''}`;
            // A record outside the verified chain (forged, or written behind Clavis's back) is flagged.
            writeLine(
              io.stdout,
              `${r.verified === false ? 'UNVERIFIED ' : ''}${r.at}  ${r.event.padEnd(20)} ${r.outcome.padEnd(8)} ${who.padEnd(30)} ${r.ip ?? '-'}  ${JSON.stringify(r.detail)}`,
            );
          }
        });
      },
    );

  audit
    .command('verify')
    .description('check every hash chain and seal; exits non-zero at the first broken record')
    .option(
      '--anchor <file>',
      "an audit anchor file of a server (repeatable): each seal in it must be in the database unchanged, and signed seals must carry the anchor's audit key (default: CLAVIS_AUDIT_ANCHOR, or the server's default anchor when it exists)",
      collect,
    )
    .option(
      '--max-unsealed-age <duration>',
      `how long a record may stay unsealed (default ${DEFAULT_MAX_UNSEALED_AGE_MS / 1000}s)`,
      duration,
    )
    .option('--json', 'print JSON')
    .action(
      async (options: { anchor?: string[]; maxUnsealedAge?: number; json?: boolean }, command: Command) => {
        // Read before opening the database: a missing or malformed anchor is an error of its own.
        const files = options.anchor ?? implicitAnchor(io, adminOptions(command));
        const anchors = files ? await Promise.all(files.map((file) => readAnchor(file))) : undefined;
        const result = await withAdmin(io, adminOptions(command), ({ services }) =>
          verifyAuditLog(services.db, services.auditKey, {
            ...(anchors ? { anchors } : {}),
            ...(options.maxUnsealedAge !== undefined
              ? { maxUnsealedAgeMs: options.maxUnsealedAge * 1000 }
              : {}),
          }),
        );
        if (options.json) writeJson(io, result);
        else if (result.ok) {
          writeLine(
            io.stdout,
            `audit log intact: ${result.records} records in ${result.segments} segments, ${result.seals} seals (${result.unsealed} records not yet sealed)`,
          );
          if (result.anchored !== undefined) {
            writeLine(
              io.stdout,
              `${result.anchored} anchored seals found in the database unchanged (${files?.join(', ')})`,
            );
          } else {
            writeLine(
              io.stdout,
              'no anchor file: deleting the newest records would go unnoticed, and seal signatures were not checked (--anchor FILE)',
            );
          }
        }
        if (!result.ok && result.broken) {
          throw new CliError(`audit log broken at ${result.broken.where}: ${result.broken.reason}`);
        }
      },
    );
}

/**
 * The anchor `verify` reads when none is named: `CLAVIS_AUDIT_ANCHOR` (which must exist), else the
 * anchor `serve` keeps by default for this database, when it is there (a database served elsewhere has
 * its anchor on that machine).
 */
function implicitAnchor(io: Io, options: AdminGlobalOptions): string[] | undefined {
  if (io.env.CLAVIS_AUDIT_ANCHOR) return [io.env.CLAVIS_AUDIT_ANCHOR];
  let file: string | undefined;
  try {
    file = defaultAuditAnchorFile(adminDbUrl(io, options), io.env.CLAVIS_KEK_FILE);
  } catch {
    return undefined; // a malformed --db is reported when the database is opened
  }
  return file && existsSync(file) ? [file] : undefined;
}
