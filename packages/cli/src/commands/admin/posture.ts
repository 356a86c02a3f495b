/** `clavis admin posture`: the flags; the work is in posture_run.ts. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Io } from '../../io.js';
import { duration } from '../../options.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import type { PostureOptions } from './posture_run.js';

/** Kept here (not imported from the server) so that `--help` loads nothing heavy. */
const severityNames = ['critical', 'high', 'medium', 'low', 'info'] as const;

function severity(value: string): (typeof severityNames)[number] {
  const found = severityNames.find((s) => s === value);
  if (!found) throw new InvalidArgumentError(`must be one of ${severityNames.join(', ')}`);
  return found;
}

export function registerPosture(admin: Command, io: Io): void {
  admin
    .command('posture')
    .description(
      'report on the live state: findings with severity, the principal or key concerned, framework references and the command that fixes each',
    )
    .addOption(new Option('--json', 'print JSON: findings and a summary').conflicts(['sarif', 'html']))
    .addOption(new Option('--sarif', 'print SARIF 2.1.0, for code-scanning dashboards').conflicts(['html']))
    .option('--html <file>', 'write a self-contained HTML report to FILE')
    .option(
      '--fail-on <severity>',
      `exit 1 when a finding is at or above: ${severityNames.join(', ')}`,
      severity,
    )
    .option(
      '--rotation-age <duration>',
      'keys and client secrets older than this are due for rotation (default 90d)',
      duration,
    )
    .option('--unused <duration>', 'keys and clients unused this long are findings (default 30d)', duration)
    .option('--expiry-warning <duration>', 'keys expiring within this are findings (default 7d)', duration)
    .option(
      '--stale-sign-in <duration>',
      'people linked to an identity provider not signed in this long are findings (default 90d)',
      duration,
    )
    .option(
      '--window <duration>',
      'how far back the audit log is read for refreshes from CI and leak reports (default 30d)',
      duration,
    )
    .action(async (flags: Omit<PostureOptions, keyof AdminTarget>, command: Command) => {
      const { runPosture } = await import('./posture_run.js');
      await runPosture({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });
}
