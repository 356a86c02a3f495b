/** `clavis admin keys create|list|show|update|rotate|revoke`: the flags; the work is in keys_run.ts. */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { collect, duration, positiveInt } from '../../options.js';
import { type AdminTarget, adminRunDeps, adminTarget } from './context.js';
import { serverDefaults } from './help_defaults.js';
import type {
  ConfirmedKeyOptions,
  KeyOptions,
  KeysCreateOptions,
  KeysListOptions,
  KeysRotateOptions,
  KeysUpdateOptions,
} from './keys_run.js';

type JsonFlag = Pick<KeyOptions, 'json'>;

export function registerKeys(admin: Command, io: Io): void {
  const keys = admin.command('keys').description('scoped API keys: bounded credentials for automation');

  keys
    .command('create')
    .description('create a key; it is printed once')
    .requiredOption('--owner <principal>', 'a client id, or user:USERNAME for a person')
    .requiredOption(
      '--scope <scope>',
      "scope the key carries (repeatable; within the owner's ceiling)",
      collect,
      [],
    )
    .requiredOption(
      '--ttl <duration>',
      `lifetime, e.g. 30d (required; at most CLAVIS_API_KEY_MAX_TTL, default ${serverDefaults.apiKeyMaxTtlSeconds / 86_400}d)`,
      duration,
    )
    .option('--cidr <cidr>', 'IPv4/IPv6 network the key may be used from (repeatable)', collect, [])
    .option('--max-uses <n>', 'the key works this many times (per-job keys: 1)', positiveInt)
    .option('--name <name>', 'what the key is for')
    .option('--rate-limit <n>', 'requests per minute, across all instances', positiveInt)
    .option('--json', 'print JSON')
    .action(async (flags: Omit<KeysCreateOptions, keyof AdminTarget>, command: Command) => {
      const { runKeysCreate } = await import('./keys_run.js');
      await runKeysCreate({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  keys
    .command('list')
    .description('list live keys (never the key itself)')
    .option('--owner <principal>', 'only the keys of this client id or user:USERNAME')
    .option('--all', 'include revoked and expired keys')
    .option('--json', 'print JSON')
    .action(async (flags: Omit<KeysListOptions, keyof AdminTarget>, command: Command) => {
      const { runKeysList } = await import('./keys_run.js');
      await runKeysList({ ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  keys
    .command('show <id>')
    .description('show one key (never the key itself)')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: JsonFlag, command: Command) => {
      const { runKeysShow } = await import('./keys_run.js');
      await runKeysShow({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  keys
    .command('rotate <id>')
    .description('issue a successor (printed once); the old key stops after the grace period')
    .option('--grace <duration>', 'how long the old key keeps working (default 24h)', duration)
    .option('--json', 'print JSON')
    .action(
      async (id: string, flags: Omit<KeysRotateOptions, keyof AdminTarget | 'id'>, command: Command) => {
        const { runKeysRotate } = await import('./keys_run.js');
        await runKeysRotate({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );

  keys
    .command('revoke <id>')
    .description('revoke a key at once')
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: Pick<ConfirmedKeyOptions, 'json' | 'yes'>, command: Command) => {
      const { runKeysRevoke } = await import('./keys_run.js');
      await runKeysRevoke({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
    });

  keys
    .command('update <id>')
    .description('change a live key’s limits (no new secret): expiry only earlier, scopes only narrower')
    .option(
      '--cidr <cidr>',
      'network the key may be used from (repeatable; replaces the allow-list)',
      collect,
    )
    .option('--max-uses <n>', 'the key works this many times in all', positiveInt)
    .option('--rate-limit <n>', 'requests per minute, across all instances', positiveInt)
    .option('--expires <time>', 'a new, earlier expiry (ISO-8601, e.g. 2030-01-01T00:00:00Z)')
    .option('--ttl <duration>', 'a new, earlier expiry this long from now', duration)
    .option('--scope <scope>', 'scope the key keeps (repeatable; a subset of its scopes)', collect)
    .option('--json', 'print JSON')
    .action(
      async (id: string, flags: Omit<KeysUpdateOptions, keyof AdminTarget | 'id'>, command: Command) => {
        const { runKeysUpdate } = await import('./keys_run.js');
        await runKeysUpdate({ id, ...flags, ...adminTarget(command) }, adminRunDeps(io));
      },
    );
}
