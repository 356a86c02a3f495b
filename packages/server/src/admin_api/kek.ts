/**
 * `/kek`: what `clavis admin kek status|retire-hashes` does, with the same views. `kek rotate` has no
 * route: it needs the new key-encryption key, which is configured where the operator runs it.
 */
import * as adminKek from '../admin/kek.js';
import { hashRetirementJson, kekStatusJson } from '../admin/views.js';
import type { ResourceDeps } from './deps.js';
import { type AdminRoute, route } from './route.js';
import { body, boolean, hashRetirementSchema, kekStatusSchema } from './schemas.js';

const TAG = 'kek';

export function kekRoutes(deps: ResourceDeps): AdminRoute[] {
  const kekDeps = (): adminKek.KekAdminDeps => ({
    db: deps.admin.db,
    clock: deps.admin.clock,
    audit: deps.admin.audit,
    ...deps.kek,
  });
  return [
    route<unknown, unknown, unknown>({
      method: 'GET',
      url: '/kek',
      operationId: 'kekStatus',
      summary:
        'Which KEK the database is under, and the secret-hashing key versions with their live credentials (clavis admin kek status)',
      tag: TAG,
      access: 'read',
      schema: { responses: { 200: { description: 'The status', schema: kekStatusSchema } } },
      handler: async () => ({ status: 200, body: kekStatusJson(await adminKek.kekStatus(kekDeps())) }),
    }),
    route<unknown, unknown, { version: number; revoke_remaining?: boolean }>({
      method: 'POST',
      url: '/kek/retire-hashes',
      operationId: 'retireHashes',
      summary:
        'Drop an older secret-hashing key version; with revoke_remaining=true, revoke what still uses it (clavis admin kek retire-hashes)',
      tag: TAG,
      access: 'destructive',
      schema: {
        body: body(
          { version: { type: 'integer', minimum: 0, maximum: 1_000_000 }, revoke_remaining: boolean },
          ['version'],
        ),
        responses: { 200: { description: 'The versions left', schema: hashRetirementSchema } },
      },
      handler: async ({ body: b, caller }) => ({
        status: 200,
        body: hashRetirementJson(
          await adminKek.retireHashes(
            kekDeps(),
            { version: b.version, revokeRemaining: b.revoke_remaining === true },
            caller.actor,
          ),
        ),
      }),
    }),
  ];
}
