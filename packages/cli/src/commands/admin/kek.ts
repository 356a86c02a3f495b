/** `clavis admin kek rotate`: the flags; the work is in kek_run.ts. */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import type { KekRotateOptions } from './kek_run.js';

export function registerKek(admin: Command, io: Io): void {
  const kek = admin
    .command('kek')
    .description(
      'the key-encryption key (CLAVIS_KEK / CLAVIS_KEK_FILE, previous ones in CLAVIS_KEK_PREVIOUS)',
    );
  kek
    .command('rotate')
    .description(
      're-seal everything under the current KEK (configure the new one first, the old one as previous); safe to run again',
    )
    .option(
      '--generate',
      'with a key file: put a new key at its top first, keeping the old one below as previous',
    )
    .option('--json', 'print JSON')
    .action(async (flags: Omit<KekRotateOptions, keyof AdminTarget>, command: Command) => {
      const { runKekRotate } = await import('./kek_run.js');
      await runKekRotate({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });
}
