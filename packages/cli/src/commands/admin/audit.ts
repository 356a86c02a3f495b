/**
 * `clavis admin audit list|export|verify|archive|prune`: the flags; the work is in audit_run.ts and
 * audit_archive_run.ts.
 */
import type { Command } from 'commander';
import { CliError } from '../../errors.js';
import type { Io } from '../../io.js';
import { auditOutcome, auditOutcomes, collect, duration, positiveInt, time } from '../../options.js';
import type { AuditArchiveOptions, AuditPruneOptions } from './audit_archive_run.js';
import type { AuditExportOptions, AuditListOptions, AuditVerifyOptions } from './audit_run.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import { serverDefaults } from './help_defaults.js';

export function registerAudit(admin: Command, io: Io): void {
  const audit = admin.command('audit').description('the tamper-evident audit log');

  audit
    .command('archive')
    .description(
      'write every record sealed before --before to a new directory (JSON Lines, the seals, a manifest), verifiable without the database; then `audit prune --archive DIR`',
    )
    .requiredOption(
      '--before <time>',
      'records sealed before this time: ISO-8601 UTC or a duration ago (90d)',
      time,
    )
    .requiredOption('--dir <dir>', 'a new (or empty) directory for the archive, created 0700')
    .option('--json', 'print JSON')
    .action(async (flags: Omit<AuditArchiveOptions, keyof AdminTarget>, command: Command) => {
      const { runAuditArchive } = await import('./audit_archive_run.js');
      await runAuditArchive({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  audit
    .command('prune')
    .description(
      'delete from the database exactly what the archive in --archive holds, once it verifies and matches the database; the log left still verifies',
    )
    .requiredOption('--archive <dir>', 'the directory `audit archive` wrote')
    .option(
      '--anchor <file>',
      "also check the archive's seals against this anchor file (repeatable)",
      collect,
    )
    .option('--json', 'print JSON')
    .action(async (flags: Omit<AuditPruneOptions, keyof AdminTarget>, command: Command) => {
      const { runAuditPrune } = await import('./audit_archive_run.js');
      await runAuditPrune({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  audit
    .command('list')
    .description(
      'audit records, newest first (UNVERIFIED marks a record outside the chain); --follow prints new ones as they commit, until Ctrl-C (exit 0)',
    )
    .option(
      '--since <time>',
      'from this time: ISO-8601 UTC (2026-01-31T09:00:00Z) or a duration ago (24h)',
      time,
    )
    .option('--until <time>', 'before this time: ISO-8601 UTC or a duration ago', time)
    .option(
      '--actor <id|username>',
      'only what this actor did: a user id or username, a client id, os:USER@HOST',
    )
    .option('--outcome <outcome>', `only ${auditOutcomes.join(' or ')}`, auditOutcome)
    .option('--action <event>', 'only this event, e.g. token.issue (same as --event)')
    .option('--event <event>', 'only this event, e.g. token.issue')
    .option('--client <client_id>', 'only records about this client')
    .option(
      '--limit <n>',
      'at most this many records, fetched page by page; when more match, stderr says how to continue (default 100)',
      positiveInt,
    )
    .option('--cursor <cursor>', 'continue a listing where it stopped (the cursor it printed on stderr)')
    .option(
      '--follow',
      'print the records from --since (default: now) oldest first, then each new one as it commits',
    )
    .option('--json', 'print JSON (with --follow: one JSON object per line)')
    .action(async (flags: Omit<AuditListOptions, keyof AdminTarget>, command: Command) => {
      if (flags.follow && flags.cursor) throw new CliError('--follow and --cursor cannot be used together');
      if (flags.action && flags.event && flags.action !== flags.event)
        throw new CliError('--action and --event name different events; give one');
      const { runAuditList } = await import('./audit_run.js');
      await runAuditList({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  audit
    .command('export')
    .description(
      'every record (or those from --since to --until) as JSON Lines for a SIEM: one JSON object per line, oldest first, chain fields included',
    )
    .option('--since <time>', 'from this time: ISO-8601 UTC or a duration ago (24h)', time)
    .option('--until <time>', 'before this time: ISO-8601 UTC or a duration ago', time)
    .option('--output <file>', 'write to this file (created 0600, replaced if it exists) instead of stdout')
    .action(async (flags: Omit<AuditExportOptions, keyof AdminTarget>, command: Command) => {
      const { runAuditExport } = await import('./audit_run.js');
      await runAuditExport({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  audit
    .command('verify')
    .description('check every hash chain and seal; exits non-zero at the first broken record')
    .option(
      '--anchor <file>',
      "an audit anchor file of a server (repeatable): each seal in it must be in the database unchanged, and signed seals must carry the anchor's audit key (default: CLAVIS_AUDIT_ANCHOR, or the server's default anchor when it exists)",
      collect,
    )
    .option(
      '--archive <dir>',
      'verify this archive (from `audit archive`) instead of the database: every hash and link, and with --anchor every signature',
    )
    .option(
      '--max-unsealed-age <duration>',
      `how long a record may stay unsealed (default ${serverDefaults.maxUnsealedAgeMs / 1000}s)`,
      duration,
    )
    .option('--json', 'print JSON')
    .action(async (flags: Omit<AuditVerifyOptions, keyof AdminTarget>, command: Command) => {
      const { runAuditVerify } = await import('./audit_run.js');
      await runAuditVerify({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });
}
