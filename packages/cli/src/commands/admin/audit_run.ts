/** The work of `clavis admin audit list|export|verify`. */
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import {
  AUDIT_PAGE_MAX,
  type AuditRecordView,
  auditEventNames,
  defaultAuditAnchorFile,
  readAnchor,
} from '@clavis/server';
import { CliError } from '../../errors.js';
import { type Env, writeJson, writeLine } from '../../io.js';
import { resolveTime, type TimeArg } from '../../options.js';
import { plural } from '../../plural.js';
import { type AdminRunDeps, type AdminTarget, adminDbUrl } from './context.js';
import {
  type AdminOperations,
  type AuditFilters,
  adminServer,
  type OperationsDeps,
  withAdmin,
} from './operations.js';

export interface AuditFilterOptions extends AdminTarget {
  since?: TimeArg | undefined;
  until?: TimeArg | undefined;
}

export interface AuditListOptions extends AuditFilterOptions {
  /** How many records in all (default 100); fetched in pages of at most AUDIT_PAGE_MAX. */
  limit?: number | undefined;
  /** Only this event (`--event`, or its alias `--action`). */
  event?: string | undefined;
  action?: string | undefined;
  /** Only records about this client id. */
  client?: string | undefined;
  /** A user id or username, a client id, `os:USER@HOST`. */
  actor?: string | undefined;
  outcome?: 'success' | 'failure' | undefined;
  /** Continue where an earlier listing stopped. */
  cursor?: string | undefined;
  /** Print the records from `since` (default now), oldest first, then each new one, until stopSignal. */
  follow?: boolean | undefined;
  json?: boolean | undefined;
}

export interface AuditExportOptions extends AuditFilterOptions {
  /** A file to write (0600) instead of stdout. */
  output?: string | undefined;
}

export interface AuditVerifyOptions extends AdminTarget {
  /** Anchor files; without any, CLAVIS_AUDIT_ANCHOR or the server's default anchor when it exists. */
  anchor?: string[] | undefined;
  /** An archive directory to verify instead of the database. */
  archive?: string | undefined;
  /** Seconds. */
  maxUnsealedAge?: number | undefined;
  json?: boolean | undefined;
}

/** How often `--follow` looks for new records, and how far back (records commit shortly after their time). */
const FOLLOW_POLL_MS = 500;
const FOLLOW_LOOKBACK_MS = 10_000;

const columns = { at: 24, event: 26, outcome: 8, actor: 44, ip: 15 };

function header(): string {
  return `${'AT'.padEnd(columns.at)}  ${'EVENT'.padEnd(columns.event)} ${'OUTCOME'.padEnd(columns.outcome)} ${'ACTOR'.padEnd(columns.actor)} ${'IP'.padEnd(columns.ip)}  DETAIL`;
}

function actorText(r: AuditRecordView): string {
  const id = `${r.actor_type}${r.actor_id ? `:${r.actor_id}` : ''}`;
  return r.actor_name ? `${id} (${r.actor_name})` : id;
}

function row(r: AuditRecordView): string {
  // A record outside the verified chain (forged, or written behind Clavis's back) is flagged.
  return `${r.verified === false ? 'UNVERIFIED ' : ''}${r.at.padEnd(columns.at)}  ${r.event.padEnd(columns.event)} ${r.outcome.padEnd(columns.outcome)} ${actorText(r).padEnd(columns.actor)} ${(r.ip ?? '-').padEnd(columns.ip)}  ${JSON.stringify(r.detail)}`;
}

/** Writes and waits for the stream to take more when it is full (a slow pipe, a SIEM shipper). */
async function put(stream: Writable, text: string): Promise<void> {
  if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', resolve));
}

function query(options: AuditListOptions, now: number): AuditFilters {
  const event = options.event ?? options.action;
  return {
    ...(event ? { event } : {}),
    ...(options.client ? { clientId: options.client } : {}),
    ...(options.actor ? { actor: options.actor } : {}),
    ...(options.outcome ? { outcome: options.outcome } : {}),
    ...(options.since ? { since: resolveTime(options.since, now) } : {}),
    ...(options.until ? { until: resolveTime(options.until, now) } : {}),
  };
}

/**
 * One stderr line for an event name this version never writes (a typo lists nothing, silently),
 * naming the events of the same family. Still listed: a database may hold records of a retired name.
 */
function warnUnknownEvent(event: string, stderr: Writable): void {
  const names = auditEventNames as readonly string[];
  if (names.includes(event)) return;
  const family = event.split('.')[0] ?? '';
  const near = names.filter((name) => name.startsWith(`${family}.`));
  writeLine(
    stderr,
    `clavis: this version writes no event named ${JSON.stringify(event)}${near.length ? `; the ${family}.* events are ${near.join(', ')}` : ''}`,
  );
}

type ListDeps = Pick<AdminRunDeps, 'stdout' | 'stderr' | 'clock' | 'stopSignal'> & OperationsDeps;

export async function runAuditList(options: AuditListOptions, deps: ListDeps): Promise<void> {
  const filters = query(options, deps.clock());
  if (filters.event !== undefined) warnUnknownEvent(filters.event, deps.stderr);
  await withAdmin(options, deps, async (ops) => {
    if (options.follow) return follow(ops, filters, options, deps);
    const limit = options.limit ?? 100;
    const all: AuditRecordView[] = [];
    let cursor = options.cursor;
    let printed = 0;
    let headed = false;
    while (printed < limit) {
      const page = await ops.auditPage({
        ...filters,
        limit: Math.min(limit - printed, AUDIT_PAGE_MAX),
        ...(cursor !== undefined ? { cursor } : {}),
      });
      // After the first page: a cursor that is not one is refused before anything is printed.
      if (!options.json && !headed) {
        writeLine(deps.stdout, header());
        headed = true;
      }
      printed += page.items.length;
      if (options.json) all.push(...page.items);
      else for (const r of page.items) await put(deps.stdout, `${row(r)}\n`);
      cursor = page.next_cursor ?? undefined;
      if (cursor === undefined) break;
    }
    if (options.json) writeJson(deps, all);
    // Say so when the limit, not the end of the log, stopped the listing.
    if (cursor !== undefined) {
      const more = await ops.auditPage({ ...filters, limit: 1, cursor });
      if (more.items.length > 0) {
        writeLine(deps.stderr, `more records match: continue with --cursor ${cursor} (or a larger --limit)`);
      }
    }
  });
}

/** Oldest first from `since` (default now), then each record as it commits, until the stop signal. */
async function follow(
  ops: AdminOperations,
  filters: AuditFilters,
  options: AuditListOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'clock' | 'stopSignal'>,
): Promise<void> {
  let stopped = false;
  void deps.stopSignal.then(() => {
    stopped = true;
  });
  const start = filters.since ?? deps.clock();
  // Per segment (one per writer), the highest sequence number printed: a record commits after those
  // before it in its segment, so anything above is new, whatever its time says.
  const printed = new Map<string, number>();
  let newest = start;
  if (!options.json) writeLine(deps.stdout, header());
  while (!stopped) {
    let cursor: string | undefined;
    do {
      const page = await ops.auditPage({
        ...filters,
        since: Math.max(start, newest - FOLLOW_LOOKBACK_MS),
        order: 'oldest',
        limit: 1000,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const r of page.items) {
        if (r.seq <= (printed.get(r.segment) ?? 0)) continue;
        printed.set(r.segment, r.seq);
        newest = Math.max(newest, Date.parse(r.at));
        await put(deps.stdout, `${options.json ? JSON.stringify(r) : row(r)}\n`);
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined && !stopped);
    if (filters.until !== undefined && deps.clock() >= filters.until) return;
    await Promise.race([deps.stopSignal, new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS))]);
  }
}

/** Every matching record as one JSON object per line, oldest first, to stdout or a 0600 file. */
export async function runAuditExport(
  options: AuditExportOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'stderr' | 'clock'> & OperationsDeps,
): Promise<void> {
  const filters = query(options, deps.clock());
  const count = await withAdmin(options, deps, async (ops) => {
    const file = options.output ? await open(options.output, 'w', 0o600) : undefined;
    try {
      const written = await ops.exportAudit(filters, async (text) => {
        if (file) await file.write(text);
        else await put(deps.stdout, text);
      });
      if (file) await file.chmod(0o600);
      return written;
    } finally {
      await file?.close();
    }
  });
  if (options.output) writeLine(deps.stderr, `exported ${count} audit records to ${options.output}`);
}

/** Prints the result; a broken chain is a CliError (exit 1) naming the first broken record. */
export async function runAuditVerify(
  options: AuditVerifyOptions,
  deps: Pick<AdminRunDeps, 'stdout'> & OperationsDeps,
): Promise<void> {
  const remote = adminServer(deps.env, options) !== undefined;
  if (remote && options.anchor)
    throw new CliError(
      '--anchor reads a file on this machine: with --server the server checks its own anchor',
    );
  // Read before opening the database: a missing or malformed anchor is an error of its own.
  const files = remote ? undefined : (options.anchor ?? implicitAnchor(deps.env, options));
  const anchors = files ? await Promise.all(files.map((file) => readAnchor(file))) : undefined;
  if (options.archive !== undefined) {
    const { runArchiveVerify } = await import('./audit_archive_run.js');
    return runArchiveVerify({ ...options, archive: options.archive }, anchors, files, deps);
  }
  const result = await withAdmin(options, deps, (ops) =>
    ops.verifyAudit({
      ...(anchors ? { anchors } : {}),
      ...(options.maxUnsealedAge !== undefined ? { maxUnsealedAgeSeconds: options.maxUnsealedAge } : {}),
    }),
  );
  if (options.json) writeJson(deps, result);
  else if (result.ok) {
    writeLine(
      deps.stdout,
      `audit log intact: ${plural(result.records, 'record')} in ${plural(result.segments, 'segment')}, ${plural(result.seals, 'seal')} (${result.unsealed} not yet sealed)`,
    );
    if (result.anchored !== undefined) {
      writeLine(
        deps.stdout,
        `${plural(result.anchored, 'anchored seal')} found in the database unchanged (${files ? files.join(', ') : "the server's anchor"})`,
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
