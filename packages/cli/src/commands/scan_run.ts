/**
 * `clavis scan`: finds secrets in files, standard input, a repository's history or the staged
 * content of the next commit; prints findings (masked), optionally reports the verified Clavis keys to
 * a server that revokes them. Exit 0 when clean, 1 with findings, 3 when the scan could not be done.
 */
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { CliError, QuietExit } from '../errors.js';
import { writeJson, writeLine } from '../io.js';
import { plural } from '../plural.js';
import type { Finding, Hit } from '../scan/engine.js';
import { installHook } from '../scan/hook.js';
import { type LeakReportResult, reportLeaks, reportServer } from '../scan/report.js';
import { ScanError, scanExitCodes } from '../scan/scan_error.js';
import { historyEntries, pathEntries, type ScanEntry, stagedEntries, stdinEntries } from '../scan/sources.js';

export interface ScanOptions {
  paths: string[];
  git?: boolean;
  staged?: boolean;
  report?: string;
  json?: boolean;
}

export interface ScanInstallHookOptions {
  force?: boolean;
}

export interface ScanDeps {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  /** Whether standard input is a pipe or a file (then `clavis scan` with no PATH reads it). */
  stdinPiped: boolean;
  cwd: string;
  fetch: typeof fetch;
  /** How a git hook starts this same clavis: `[node, script]`, or the single executable alone. */
  selfCommand: readonly string[];
}

/** Files larger than this are skipped (and counted): secrets live in text, not in 10 MiB blobs. */
export const MAX_SCAN_BYTES = 10 * 1024 * 1024;

/** Files read and scanned at once at least: reading overlaps scanning. */
const CONCURRENCY = 8;

interface Totals {
  files: number;
  bytes: number;
  binary: number;
  large: number;
  unreadable: number;
}

/** Git's own test for binary content: a NUL byte in the first 8000 bytes. */
const isBinary = (content: Buffer): boolean => content.subarray(0, 8000).includes(0);

async function scanEntries(entries: AsyncIterable<ScanEntry>): Promise<{ hits: Hit[]; totals: Totals }> {
  const { scanText } = await import('../scan/engine.js');
  const { ScanPool } = await import('../scan/worker_pool.js');
  const pool = new ScanPool((content, file, commit) => scanText(content.toString('utf8'), file, commit));
  const hits: Hit[] = [];
  const totals: Totals = { files: 0, bytes: 0, binary: 0, large: 0, unreadable: 0 };
  const scanOne = async (entry: ScanEntry): Promise<void> => {
    if (entry.size > MAX_SCAN_BYTES) {
      totals.large += 1;
      return;
    }
    const content = await entry.load();
    if (content === null) {
      totals.unreadable += 1;
      return;
    }
    if (isBinary(content)) {
      totals.binary += 1;
      return;
    }
    totals.files += 1;
    totals.bytes += content.length;
    hits.push(...(await pool.scan(content, entry.file, entry.commit)));
  };
  const running = new Set<Promise<void>>();
  try {
    for await (const entry of entries) {
      const job: Promise<void> = scanOne(entry).finally(() => running.delete(job));
      running.add(job);
      if (running.size >= Math.max(CONCURRENCY, pool.capacity + 2)) await Promise.race(running);
    }
    await Promise.all(running);
  } finally {
    // A failed job's siblings are still running: let them settle before the workers go.
    await Promise.allSettled(running);
    await pool.close();
  }
  hits.sort(
    (a, b) =>
      compare(a.finding.file, b.finding.file) ||
      compare(a.finding.commit ?? '', b.finding.commit ?? '') ||
      a.finding.line - b.finding.line ||
      a.finding.column - b.finding.column,
  );
  return { hits, totals };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sourcesFor(options: ScanOptions, deps: Pick<ScanDeps, 'stdin' | 'stdinPiped' | 'cwd'>) {
  if (options.git && options.staged) throw new ScanError('--git and --staged cannot be combined');
  if (options.git || options.staged) {
    if (options.paths.length > 1 || options.paths[0] === '-')
      throw new ScanError(`${options.git ? '--git' : '--staged'} takes at most one PATH: the repository`);
    const dir = resolve(deps.cwd, options.paths[0] ?? '.');
    return options.git ? historyEntries(dir, MAX_SCAN_BYTES) : stagedEntries(dir, MAX_SCAN_BYTES);
  }
  if (options.paths.includes('-')) {
    if (options.paths.length > 1) throw new ScanError('`-` (standard input) cannot be combined with paths');
    return stdinEntries(deps.stdin, MAX_SCAN_BYTES);
  }
  if (options.paths.length === 0 && deps.stdinPiped) return stdinEntries(deps.stdin, MAX_SCAN_BYTES);
  return pathEntries(options.paths.length ? options.paths : ['.'], deps.cwd);
}

function printText(deps: Pick<ScanDeps, 'stdout'>, findings: readonly Finding[]): void {
  for (const f of findings) {
    const at = f.commit ? `${f.file}@${f.commit.slice(0, 12)}` : f.file;
    const verified = f.verified ? ' (verified)' : '';
    writeLine(
      deps.stdout,
      `${at}:${f.line}:${f.column}  ${f.severity}  ${f.rule}  ${f.match}${verified}  ${f.message}`,
    );
  }
}

function summary(totals: Totals, findings: readonly Finding[], seconds: number): string {
  const verified = findings.filter((f) => f.verified).length;
  const skipped = [
    totals.binary ? `${totals.binary} binary` : '',
    totals.large ? `${totals.large} over ${MAX_SCAN_BYTES / 1024 / 1024} MiB` : '',
    totals.unreadable ? `${totals.unreadable} unreadable` : '',
  ].filter(Boolean);
  const mb = (totals.bytes / 1e6).toFixed(1);
  return (
    `scanned ${plural(totals.files, 'file')} (${mb} MB) in ${seconds.toFixed(1)} s: ` +
    `${plural(findings.length, 'finding')}${verified ? ` (${plural(verified, 'verified Clavis key')})` : ''}` +
    `${skipped.length ? `; skipped ${skipped.join(', ')}` : ''}`
  );
}

export async function runScan(options: ScanOptions, deps: ScanDeps): Promise<void> {
  const started = performance.now();
  const server = options.report === undefined ? undefined : reportServer(options.report);
  let hits: Hit[];
  let totals: Totals;
  try {
    ({ hits, totals } = await scanEntries(sourcesFor(options, deps)));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new ScanError(`the scan failed: ${(err as Error).message}`);
  }
  const findings = hits.map((hit) => hit.finding);
  let report: LeakReportResult | undefined;
  if (server) {
    const leaks = hits
      .filter((hit) => hit.finding.verified)
      .map((hit) => ({
        key: hit.secret,
        where: `${hit.finding.file}:${hit.finding.line}${hit.finding.commit ? ` at ${hit.finding.commit}` : ''}`,
      }));
    report = await reportLeaks(server, leaks, deps.fetch);
  }
  const seconds = (performance.now() - started) / 1000;
  if (options.json) {
    const { files, bytes, ...skipped } = totals;
    writeJson(deps, { findings, scanned: { files, bytes }, skipped, ...(report ? { report } : {}) });
  } else {
    printText(deps, findings);
    writeLine(deps.stderr, summary(totals, findings, seconds));
    if (report && server)
      writeLine(
        deps.stderr,
        report.reported === 0
          ? 'no verified Clavis key to report'
          : `reported ${plural(report.reported, 'Clavis key')} to ${server.origin}: ${report.revoked} revoked, ${report.unknown} unknown or already inactive`,
      );
  }
  if (findings.length > 0) {
    if (options.staged)
      writeLine(
        deps.stderr,
        'clavis: the commit is refused: its staged content holds a secret (remove it, or `git commit --no-verify` for a false positive)',
      );
    throw new QuietExit(scanExitCodes.findings);
  }
}

export async function runScanInstallHook(
  options: ScanInstallHookOptions,
  deps: Pick<ScanDeps, 'stderr' | 'cwd' | 'selfCommand'>,
): Promise<void> {
  const { path, outcome } = await installHook(deps.cwd, deps.selfCommand, options.force === true);
  const said = {
    installed: 'installed the pre-commit hook',
    replaced: 'replaced the pre-commit hook',
    unchanged: 'the pre-commit hook is already installed',
  };
  writeLine(deps.stderr, `${said[outcome]}: ${path}`);
}
