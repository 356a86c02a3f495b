/** `clavis admin audit list|verify`: the flags; the work is in audit_run.ts. */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { collect, duration, positiveInt } from '../../options.js';
import type { AuditListOptions, AuditVerifyOptions } from './audit_run.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import { serverDefaults } from './help_defaults.js';

export function registerAudit(admin: Command, io: Io): void {
  const audit = admin.command('audit').description('the tamper-evident audit log');

  audit
    .command('list')
    .description('recent audit records, newest first (UNVERIFIED marks a record outside the chain)')
    .option('--limit <n>', 'how many (default 100)', positiveInt)
    .option('--event <name>', 'only this event, e.g. token.issue')
    .option('--client <client_id>', 'only records about this client')
    .option('--json', 'print JSON')
    .action(async (flags: Omit<AuditListOptions, keyof AdminTarget>, command: Command) => {
      const { runAuditList } = await import('./audit_run.js');
      await runAuditList({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
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
