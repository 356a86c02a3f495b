/**
 * The real `AdminOpener`: services opened on the target's database, an actor naming the operator, and a
 * guaranteed close (which flushes and seals this invocation's audit segment). Loads the server.
 */
import { hostname, userInfo } from 'node:os';
import { configDefaults, openServices } from '@clavis/server';
import { CliError } from '../../errors.js';
import type { Env } from '../../io.js';
import { type AdminOpener, adminDbUrl } from './context.js';

function operator(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}

/** Opens services with the KEK of `env` (CLAVIS_KEK, CLAVIS_KEK_FILE) and `clock` as their time. */
export function adminOpener(env: Env, clock: () => number): AdminOpener {
  return async (target, fn, options) => {
    // A server is administered over its API (operations.ts); only a database is opened here.
    if (target.server !== undefined) throw new CliError('this command works on a database: use --db');
    const services = await openServices({
      dbUrl: adminDbUrl(env, target),
      kek: env.CLAVIS_KEK,
      kekPrevious: env.CLAVIS_KEK_PREVIOUS,
      kekFile: env.CLAVIS_KEK_FILE,
      writer: 'cli',
      create: options?.create === true,
      poolSize: 2,
      clock,
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
  };
}
