/** The work of `clavis admin init`: create (or find) the database and its key-encryption key. */
import { writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { refuseRemote } from './operations.js';

export interface AdminInitOptions extends AdminTarget {
  json?: boolean | undefined;
}

/** Idempotent: on a database that is already set up it only says so. */
export async function runAdminInit(
  options: AdminInitOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'env' | 'openAdmin'>,
): Promise<void> {
  refuseRemote('init', deps.env, options);
  const result = await deps.openAdmin(
    options,
    async ({ services }) => {
      const bootstrapped = await services.db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'bootstrapped')
        .executeTakeFirst();
      return {
        database: services.dbDescription,
        key_encryption_key: services.kekSource,
        admin_created: bootstrapped !== undefined,
      };
    },
    { create: true },
  );
  if (options.json) return writeJson(deps, result);
  writeLine(deps.stdout, `database  ${result.database}`);
  writeLine(deps.stdout, `key file  ${result.key_encryption_key}`);
  if (!result.admin_created)
    writeLine(deps.stdout, 'the first `clavis serve` on it creates the admin user and prints its password');
}
