/** The work of `clavis admin audit archive|prune` and `audit verify --archive`. */
import {
  type AuditAnchorContents,
  AuditArchiveError,
  archiveAudit,
  archiveChainKey,
  KekError,
  pruneAudit,
  readAnchor,
  verifyAuditArchive,
} from '@clavis/server';
import { CliError } from '../../errors.js';
import { writeJson, writeLine } from '../../io.js';
import { resolveTime, type TimeArg } from '../../options.js';
import { plural } from '../../plural.js';
import { type AdminRunDeps, type AdminTarget, adminDbUrl } from './context.js';

export interface AuditArchiveOptions extends AdminTarget {
  before: TimeArg;
  dir: string;
  json?: boolean | undefined;
}

export interface AuditPruneOptions extends AdminTarget {
  archive: string;
  anchor?: string[] | undefined;
  json?: boolean | undefined;
}

/** An archive error as one line (exit 1). */
async function orCliError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof AuditArchiveError) throw new CliError(err.message);
    throw err;
  }
}

export async function runAuditArchive(
  options: AuditArchiveOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'clock' | 'openAdmin'>,
): Promise<void> {
  const before = resolveTime(options.before, deps.clock());
  const manifest = await orCliError(() =>
    deps.openAdmin(options, ({ services }) =>
      archiveAudit(services.db, { before, dir: options.dir, now: deps.clock() }),
    ),
  );
  if (options.json) return writeJson(deps, manifest ?? null);
  if (!manifest) {
    writeLine(deps.stdout, 'nothing to archive: no seal before that time but the newest (which stays)');
    return;
  }
  writeLine(
    deps.stdout,
    `archived ${manifest.records} records and seals ${manifest.seals.from}..${manifest.seals.to} to ${options.dir}`,
  );
  writeLine(deps.stdout, `check it, then: clavis admin audit prune --archive ${options.dir}`);
}

export async function runAuditPrune(
  options: AuditPruneOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'openAdmin'>,
): Promise<void> {
  const anchors = options.anchor ? await Promise.all(options.anchor.map((f) => readAnchor(f))) : undefined;
  const result = await orCliError(() =>
    deps.openAdmin(options, ({ services, actor }) =>
      pruneAudit(services.db, services.audit, services.auditKey, {
        dir: options.archive,
        actor: { type: actor.type, id: actor.id },
        ...(anchors ? { anchors } : {}),
      }),
    ),
  );
  if (options.json) return writeJson(deps, result);
  writeLine(
    deps.stdout,
    `pruned ${result.records} records and ${result.seals} seals archived in ${options.archive}`,
  );
}

/**
 * `audit verify --archive DIR`: the archive alone, offline — no database is opened; the chain key comes
 * from the KEK (CLAVIS_KEK, or the key file as for the target database) and what the archive carries.
 */
export async function runArchiveVerify(
  options: AdminTarget & { archive: string; json?: boolean | undefined },
  anchors: AuditAnchorContents[] | undefined,
  files: string[] | undefined,
  deps: Pick<AdminRunDeps, 'stdout' | 'env'>,
): Promise<void> {
  const key = await orCliError(async () => {
    try {
      return archiveChainKey(options.archive, {
        dbUrl: adminDbUrl(deps.env, options),
        kek: deps.env.CLAVIS_KEK,
        kekPrevious: deps.env.CLAVIS_KEK_PREVIOUS || undefined,
        kekFile: deps.env.CLAVIS_KEK_FILE,
      });
    } catch (err) {
      if (err instanceof KekError) throw new CliError(err.message);
      throw err;
    }
  });
  const result = verifyAuditArchive(options.archive, key, anchors ? { anchors } : {});
  const { manifest: _manifest, ...shown } = result;
  if (options.json) writeJson(deps, shown);
  else if (result.ok) {
    writeLine(
      deps.stdout,
      `audit archive intact: ${plural(result.records, 'record')}, ${plural(result.seals, 'seal')}`,
    );
    if (result.anchored !== undefined)
      writeLine(
        deps.stdout,
        `${plural(result.anchored, 'anchored seal')} found in the archive unchanged (${files?.join(', ')})`,
      );
  }
  if (!result.ok && result.broken)
    throw new CliError(`audit archive broken at ${result.broken.where}: ${result.broken.reason}`);
}
