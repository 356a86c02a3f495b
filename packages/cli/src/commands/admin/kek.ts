/** `clavis admin kek rotate|status|retire-hashes`: the flags; the work is in kek_run.ts. */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { wholeNumber } from '../../options.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import type { KekRetireOptions, KekRotateOptions, KekStatusOptions } from './kek_run.js';

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
  kek
    .command('status')
    .description(
      'which KEK the database is under, and the secret-hashing key versions with the live credentials stored under each',
    )
    .option('--json', 'print JSON')
    .action(async (flags: Omit<KekStatusOptions, keyof AdminTarget>, command: Command) => {
      const { runKekStatus } = await import('./kek_run.js');
      await runKekStatus({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });
  kek
    .command('retire-hashes')
    .argument('<version>', 'the version to retire (a number, as kek status shows it)', wholeNumber)
    .description(
      'drop an older secret-hashing key version once no live credential is stored under it (see kek status)',
    )
    .option(
      '--revoke-remaining',
      'revoke what still uses it (API keys, client secrets, refresh-token families; pending device codes and unused recovery codes deleted): their holders need new ones',
    )
    .option(
      '--yes',
      'do not ask for confirmation of --revoke-remaining (required when stdin is not a terminal)',
    )
    .option('--json', 'print JSON')
    .action(
      async (
        version: number,
        flags: Omit<KekRetireOptions, keyof AdminTarget | 'version'>,
        command: Command,
      ) => {
        const { runKekRetireHashes } = await import('./kek_run.js');
        await runKekRetireHashes({ version, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );
}
