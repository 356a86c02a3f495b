/**
 * The work of `clavis admin posture`: the report over the live state (of the database, or a server's), printed as text
 * (grouped by severity, each with its fix), JSON, SARIF 2.1.0, or written as an HTML file; with
 * `--fail-on SEVERITY`, exit 1 when a finding is at or above it (after printing the report).
 */
import { writeFile } from 'node:fs/promises';
import { posture } from '@clavis/server';
import { CliError } from '../../errors.js';
import { writeJson, writeLine } from '../../io.js';
import { version } from '../../main.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { type OperationsDeps, withAdmin } from './operations.js';

export interface PostureOptions extends AdminTarget {
  json?: boolean | undefined;
  sarif?: boolean | undefined;
  html?: string | undefined;
  failOn?: posture.Severity | undefined;
  /** Seconds, as the CLI's duration parser gives them. */
  rotationAge?: number | undefined;
  unused?: number | undefined;
  expiryWarning?: number | undefined;
  staleSignIn?: number | undefined;
  window?: number | undefined;
}

function policyOf(options: PostureOptions): posture.PosturePolicy {
  const ms = (seconds: number | undefined, fallback: number) =>
    seconds === undefined ? fallback : seconds * 1000;
  const d = posture.defaultPolicy;
  return {
    rotationAgeMs: ms(options.rotationAge, d.rotationAgeMs),
    unusedMs: ms(options.unused, d.unusedMs),
    expiryWarningMs: ms(options.expiryWarning, d.expiryWarningMs),
    staleSignInMs: ms(options.staleSignIn, d.staleSignInMs),
    windowMs: ms(options.window, d.windowMs),
  };
}

function writeText(stdout: AdminRunDeps['stdout'], report: posture.PostureReport): void {
  const { summary } = report;
  const counts = posture.severities
    .filter((s) => summary.counts[s] > 0)
    .map((s) => `${summary.counts[s]} ${s}`)
    .join(', ');
  writeLine(
    stdout,
    `posture score ${summary.score}/100: ${report.findings.length === 0 ? 'no findings' : counts}`,
  );
  for (const severity of posture.severities) {
    const group = report.findings.filter((f) => f.severity === severity);
    if (group.length === 0) continue;
    writeLine(stdout);
    writeLine(stdout, `${severity.toUpperCase()} (${group.length})`);
    for (const f of group) {
      writeLine(stdout, `  ${f.id}: ${f.detail}`);
      writeLine(stdout, `    fix: ${f.fix}`);
      writeLine(stdout, `    references: ${f.references.join(', ')}`);
    }
  }
}

export async function runPosture(
  options: PostureOptions,
  deps: Pick<AdminRunDeps, 'stdout'> & OperationsDeps,
): Promise<void> {
  if ([options.json, options.sarif, options.html !== undefined].filter(Boolean).length > 1) {
    throw new CliError('choose one of --json, --sarif and --html');
  }
  const fallback = deps.env.CLAVIS_ASSERTION_AUDIENCE;
  if (fallback !== undefined && fallback !== 'issuer' && fallback !== 'issuer-or-token-endpoint') {
    throw new CliError('CLAVIS_ASSERTION_AUDIENCE must be issuer or issuer-or-token-endpoint');
  }
  const policy = policyOf(options);
  const json = await withAdmin(options, deps, (ops) =>
    ops.postureReport(policy, { assertionAudienceFallback: fallback }),
  );
  // Text, SARIF and HTML are rendered here from the JSON, wherever the report was made.
  const report = posture.postureFromJson(json, policy);
  if (options.json) writeJson(deps, json);
  else if (options.sarif) writeJson(deps, posture.postureSarif(report, { version }));
  else if (options.html !== undefined) {
    try {
      await writeFile(options.html, posture.postureHtml(report), { mode: 0o644 });
    } catch (err) {
      throw new CliError(
        `cannot write ${options.html}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    writeLine(
      deps.stdout,
      `report written: ${options.html} (score ${report.summary.score}/100, ${report.findings.length} findings)`,
    );
  } else writeText(deps.stdout, report);
  if (options.failOn) {
    const bar = posture.severityRank(options.failOn);
    const failing = report.findings.filter((f) => posture.severityRank(f.severity) >= bar).length;
    if (failing > 0) {
      throw new CliError(
        `${failing} ${failing === 1 ? 'finding' : 'findings'} at or above ${options.failOn} (--fail-on ${options.failOn})`,
      );
    }
  }
}
