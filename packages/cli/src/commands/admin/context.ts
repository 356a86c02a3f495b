/**
 * What every `clavis admin` subcommand runs inside: services opened on `--db` (or CLAVIS_DB), an actor
 * naming the operator, and a guaranteed close (which flushes and seals this invocation's audit segment).
 */
import { hostname, userInfo } from 'node:os';
import { type adminClients, configDefaults, openServices, type Services } from '@clavis/server';
import type { Command } from 'commander';
import { CliError } from '../../errors.js';
import type { Io } from '../../io.js';

export interface AdminGlobalOptions {
  db?: string;
  server?: string;
}

export interface AdminContext {
  services: Services;
  actor: adminClients.Actor;
  deps: adminClients.AdminDeps & { totpKey: Buffer };
}

function operator(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}

/** The admin options, wherever on the command line they were given. */
export function adminOptions(command: Command): AdminGlobalOptions {
  return command.optsWithGlobals<AdminGlobalOptions>();
}

/** The database an admin command works on: `--db`, else `CLAVIS_DB`, else `./clavis.db`. */
export function adminDbUrl(io: Io, options: AdminGlobalOptions): string {
  return options.db ?? io.env.CLAVIS_DB ?? 'sqlite:./clavis.db';
}

export async function withAdmin<T>(
  io: Io,
  options: AdminGlobalOptions,
  fn: (ctx: AdminContext) => Promise<T>,
): Promise<T> {
  if (options.server) {
    throw new CliError(
      "administration over --server is not available yet; use --db with the server's database URL",
    );
  }
  const services = await openServices({
    dbUrl: adminDbUrl(io, options),
    kek: io.env.CLAVIS_KEK,
    kekFile: io.env.CLAVIS_KEK_FILE,
    writer: 'cli',
    poolSize: 2,
  });
  const actor = { type: 'admin' as const, id: `os:${operator()}`, ip: null, userAgent: 'clavis-cli' };
  try {
    return await fn({
      services,
      actor,
      deps: {
        db: services.db,
        audit: services.audit,
        hasher: services.hasher,
        clock: services.clock,
        maxAccessTokenTtlSeconds: configDefaults.maxAccessTokenTtlSeconds,
        defaultAccessTokenTtlSeconds: configDefaults.defaultAccessTokenTtlSeconds,
        totpKey: services.totpKey,
      },
    });
  } finally {
    await services.close();
  }
}
