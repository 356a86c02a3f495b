/** `clavis admin init`: the flags; the work is in init_run.ts. */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import type { AdminInitOptions } from './init_run.js';

export function registerInit(admin: Command, io: Io): void {
  admin
    .command('init')
    .description(
      'create the database (and its key-encryption key) that --db names, without starting a server; the other admin commands never create one',
    )
    .option('--json', 'print JSON')
    .action(async (flags: Omit<AdminInitOptions, keyof AdminTarget>, command: Command) => {
      const { runAdminInit } = await import('./init_run.js');
      await runAdminInit({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });
}
