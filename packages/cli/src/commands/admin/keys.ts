/** `clavis admin keys create|list|show|rotate|revoke`: scoped API keys. */
import { adminApiKeys, configDefaults } from '@clavis/server';
import type { Command } from 'commander';
import { type Io, writeJson, writeLine } from '../../io.js';
import { collect, duration, positiveInt } from '../../options.js';
import { apiKeySettings } from '../../settings.js';
import { type AdminContext, adminOptions, withAdmin } from './context.js';

interface CreateOptions {
  owner: string;
  scope: string[];
  ttl: number;
  cidr: string[];
  maxUses?: number;
  name?: string;
  rateLimit?: number;
  json?: boolean;
}

/** The deps of the admin functions; the lifetime cap is the server's (CLAVIS_API_KEY_MAX_TTL or 90d). */
function keyDeps(ctx: AdminContext, io: Io): adminApiKeys.ApiKeyAdminDeps {
  return {
    db: ctx.deps.db,
    audit: ctx.deps.audit,
    hasher: ctx.deps.hasher,
    clock: ctx.deps.clock,
    apiKeyMaxTtlSeconds: apiKeySettings(io.env).apiKeyMaxTtlSeconds ?? configDefaults.apiKeyMaxTtlSeconds,
  };
}

function printKey(io: Io, key: adminApiKeys.ApiKeyView): void {
  for (const [name, value] of Object.entries(key)) {
    writeLine(
      io.stdout,
      `${name.padEnd(15)} ${Array.isArray(value) ? value.join(' ') : String(value ?? '-')}`,
    );
  }
}

/** The JSON of a key, with `key` only when it was just created (create, rotate). */
function keyJson(view: adminApiKeys.ApiKeyView, plaintext?: string): Record<string, unknown> {
  return { ...view, ...(plaintext !== undefined ? { key: plaintext } : {}) };
}

/** People's output for a new key: the key on its own line, and a one-line warning on stderr. */
function printNewKey(io: Io, view: adminApiKeys.ApiKeyView, plaintext: string): void {
  printKey(io, view);
  writeLine(io.stdout, plaintext);
  writeLine(io.stderr, `Store the key ${view.id} now: it is shown only this once and cannot be recovered.`);
}

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
      `lifetime, e.g. 30d (required; at most CLAVIS_API_KEY_MAX_TTL, default ${configDefaults.apiKeyMaxTtlSeconds / 86_400}d)`,
      duration,
    )
    .option('--cidr <cidr>', 'IPv4/IPv6 network the key may be used from (repeatable)', collect, [])
    .option('--max-uses <n>', 'the key works this many times (per-job keys: 1)', positiveInt)
    .option('--name <name>', 'what the key is for')
    .option('--rate-limit <n>', 'requests per minute, across all instances', positiveInt)
    .option('--json', 'print JSON')
    .action(async (options: CreateOptions, command: Command) => {
      await withAdmin(io, adminOptions(command), async (ctx) => {
        const created = await adminApiKeys.createApiKey(
          keyDeps(ctx, io),
          {
            owner: options.owner,
            scopes: options.scope,
            ttlSeconds: options.ttl,
            ...(options.cidr.length ? { cidrs: options.cidr } : {}),
            ...(options.maxUses !== undefined ? { maxUses: options.maxUses } : {}),
            ...(options.name !== undefined ? { name: options.name } : {}),
            ...(options.rateLimit !== undefined ? { rateLimit: options.rateLimit } : {}),
          },
          ctx.actor,
        );
        if (options.json) writeJson(io, keyJson(created.key, created.plaintext));
        else printNewKey(io, created.key, created.plaintext);
      });
    });

  keys
    .command('list')
    .description('list live keys (never the key itself)')
    .option('--owner <principal>', 'only the keys of this client id or user:USERNAME')
    .option('--all', 'include revoked and expired keys')
    .option('--json', 'print JSON')
    .action(async (options: { owner?: string; all?: boolean; json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async (ctx) => {
        const all = await adminApiKeys.listApiKeys(keyDeps(ctx, io), {
          ...(options.owner !== undefined ? { owner: options.owner } : {}),
          all: options.all === true,
        });
        if (options.json) return writeJson(io, all);
        writeLine(
          io.stdout,
          `${'ID'.padEnd(22)} ${'OWNER'.padEnd(28)} ${'STATE'.padEnd(9)} ${'EXPIRES'.padEnd(24)} SCOPES`,
        );
        for (const k of all) {
          writeLine(
            io.stdout,
            `${k.id.padEnd(22)} ${k.owner.padEnd(28)} ${k.state.padEnd(9)} ${k.expires_at.padEnd(24)} ${k.scopes.join(' ')}`,
          );
        }
      });
    });

  keys
    .command('show <id>')
    .description('show one key (never the key itself)')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async (ctx) => {
        const key = await adminApiKeys.showApiKey(keyDeps(ctx, io), id);
        if (options.json) writeJson(io, key);
        else printKey(io, key);
      });
    });

  keys
    .command('rotate <id>')
    .description('issue a successor (printed once); the old key stops after the grace period')
    .option('--grace <duration>', 'how long the old key keeps working (default 24h)', duration)
    .option('--json', 'print JSON')
    .action(async (id: string, options: { grace?: number; json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async (ctx) => {
        const rotated = await adminApiKeys.rotateApiKey(
          keyDeps(ctx, io),
          id,
          options.grace !== undefined ? { graceSeconds: options.grace } : {},
          ctx.actor,
        );
        if (options.json) {
          writeJson(io, { ...keyJson(rotated.key, rotated.plaintext), predecessor: rotated.old });
        } else {
          printNewKey(io, rotated.key, rotated.plaintext);
          writeLine(io.stderr, `The old key ${rotated.old.id} stops working at ${rotated.old.expires_at}.`);
        }
      });
    });

  keys
    .command('revoke <id>')
    .description('revoke a key at once')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async (ctx) => {
        const key = await adminApiKeys.revokeApiKey(keyDeps(ctx, io), id, ctx.actor);
        if (options.json) writeJson(io, key);
        else writeLine(io.stderr, `Revoked ${key.id}.`);
      });
    });
}
