/** `clavis admin signing-keys list|rotate`: the flags; the work is in signing_keys_run.ts. */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import type { SigningKeysListOptions, SigningKeysRotateOptions } from './signing_keys_run.js';

export function registerSigningKeys(admin: Command, io: Io): void {
  const keys = admin
    .command('signing-keys')
    .description(
      'the keys that sign tokens (rotated on a schedule; rotate by hand after a suspected compromise)',
    );

  keys
    .command('list')
    .description('the keys in the JWKS, oldest first: next, signing, or published until their tokens expire')
    .option('--all', 'include expired keys')
    .option('--json', 'print JSON')
    .action(async (flags: Omit<SigningKeysListOptions, keyof AdminTarget>, command: Command) => {
      const { runSigningKeysList } = await import('./signing_keys_run.js');
      await runSigningKeysList({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  keys
    .command('rotate')
    .description(
      'new keys now; the old ones sign no more and leave the JWKS once the tokens they signed expire (the longest access-token lifetime)',
    )
    .option('--now', 'withdraw the old keys from the JWKS at once: every token they signed stops verifying')
    .option('--json', 'print JSON')
    .action(async (flags: Omit<SigningKeysRotateOptions, keyof AdminTarget>, command: Command) => {
      const { runSigningKeysRotate } = await import('./signing_keys_run.js');
      await runSigningKeysRotate({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });
}
