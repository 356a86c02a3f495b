/** `clavis admin backup FILE`: the flags; the work is in backup_run.ts. */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import type { BackupOptions } from './backup_run.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';

export function registerBackup(admin: Command, io: Io): void {
  admin
    .command('backup <file>')
    .description(
      'write a consistent snapshot of the SQLite database to FILE (new, mode 0600); for PostgreSQL, print the pg_dump to run and exit 1',
    )
    .option('--json', 'print JSON')
    .action(
      async (file: string, flags: Omit<BackupOptions, keyof AdminTarget | 'file'>, command: Command) => {
        const { runBackup } = await import('./backup_run.js');
        await runBackup({ file, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );
}
