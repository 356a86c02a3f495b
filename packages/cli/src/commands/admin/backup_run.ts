/** The work of `clavis admin backup FILE`. */
import { adminBackup, parseDatabaseUrl } from '@clavis/server';
import { CliError } from '../../errors.js';
import { writeJson, writeLine } from '../../io.js';
import { type AdminRunDeps, type AdminTarget, adminDbUrl } from './context.js';
import { refuseRemote } from './operations.js';

export interface BackupOptions extends AdminTarget {
  file: string;
  json?: boolean | undefined;
}

/**
 * SQLite: a consistent snapshot into FILE (new, 0600). PostgreSQL: nothing is written; exits 1 with the
 * `pg_dump` line to run, so a script that goes on to copy FILE away stops here.
 */
export async function runBackup(
  options: BackupOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'env' | 'openAdmin'>,
): Promise<void> {
  refuseRemote('backup', deps.env, options);
  if (!options.file) throw new CliError('backup needs a FILE to write');
  const dbUrl = adminDbUrl(deps.env, options);
  if (parseDatabaseUrl(dbUrl).dialect === 'postgres') {
    throw new CliError(
      `a PostgreSQL database is backed up with pg_dump, not by clavis: run ${adminBackup.postgresBackupCommand(dbUrl, options.file)}`,
    );
  }
  const result = await deps.openAdmin(options, ({ services, actor }) =>
    adminBackup.backupDatabase(services, options.file, actor),
  );
  const takenAt = new Date(result.takenAt).toISOString();
  if (options.json) return writeJson(deps, { file: result.file, bytes: result.bytes, taken_at: takenAt });
  writeLine(deps.stdout, `backup written: ${result.file} (${result.bytes} bytes, snapshot of ${takenAt})`);
  writeLine(
    deps.stdout,
    'it holds no key-encryption key: keep the KEK (CLAVIS_KEK or its file) safe apart from it; restoring needs both',
  );
}
