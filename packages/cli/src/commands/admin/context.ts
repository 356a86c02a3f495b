/**
 * What every `clavis admin` command is given: the database it works on (`--db`/`--server`, wherever on
 * the command line), and the deps its run function uses. Light: the server is loaded only when a command
 * opens its services (see session.ts), so that building the program and `--help` never load it.
 */
import type { adminClients, Services } from '@clavis/server';
import type { Command } from 'commander';
import type { Env, Io } from '../../io.js';

/** `clavis admin --db URL | --server URL`. */
export interface AdminTarget {
  db?: string | undefined;
  server?: string | undefined;
}

/** The services an admin command works with, open for the duration of one call of an `AdminOpener`. */
export interface AdminContext {
  services: Services;
  actor: adminClients.Actor;
  deps: adminClients.AdminDeps & { totpKey: Buffer };
}

/**
 * Opens the services on the target's database, runs `fn`, and closes them (sealing the audit segment).
 * A database (or key-encryption key) that is not there is an error, unless `create` is set (`admin init`).
 */
export type AdminOpener = <T>(
  target: AdminTarget,
  fn: (ctx: AdminContext) => Promise<T>,
  options?: { create?: boolean },
) => Promise<T>;

/** Everything an admin run function may use; each one takes only the part it needs (`Pick`). */
export interface AdminRunDeps {
  stdout: Io['stdout'];
  stderr: Io['stderr'];
  stdin: Io['stdin'];
  env: Env;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM): ends `audit list --follow`. */
  stopSignal: Io['stopSignal'];
  /** Now, in ms; the clock of the opened services too. */
  clock: () => number;
  openAdmin: AdminOpener;
}

/** The admin options, wherever on the command line they were given. */
export function adminTarget(command: Command): AdminTarget {
  const { db, server } = command.optsWithGlobals<AdminTarget>();
  return { db, server };
}

/** The database an admin command works on: `--db`, else `CLAVIS_DB`, else `./clavis.db`. */
export function adminDbUrl(env: Env, target: AdminTarget): string {
  return target.db ?? env.CLAVIS_DB ?? 'sqlite:./clavis.db';
}

/** The deps of the process: its streams and environment, the real clock, services opened on demand. */
export function adminRunDeps(io: Io, clock: () => number = Date.now): AdminRunDeps {
  return {
    stdout: io.stdout,
    stderr: io.stderr,
    stdin: io.stdin,
    env: io.env,
    // Read only by a command that stops itself on the signal (reading it is what says so: see processIo).
    get stopSignal() {
      return io.stopSignal;
    },
    clock,
    openAdmin: async (target, fn, options) =>
      (await import('./session.js')).adminOpener(io.env, clock)(target, fn, options),
  };
}
