/** `/signing-keys`: what `clavis admin signing-keys list|rotate` does, with the same views. */
import * as adminSigningKeys from '../admin/signing_keys.js';
import { signingKeysRotatedJson } from '../admin/views.js';
import type { ResourceDeps } from './deps.js';
import { pageOf, pageQuerySchema } from './pagination.js';
import { type AdminRoute, route } from './route.js';
import { body, boolean, list, signingKeySchema, signingKeysRotatedSchema } from './schemas.js';

const TAG = 'signing-keys';

export function signingKeyRoutes(deps: ResourceDeps): AdminRoute[] {
  const keys = { keys: deps.keys, audit: deps.admin.audit, clock: deps.admin.clock };
  return [
    route<unknown, { limit?: number; cursor?: string; all?: boolean }, unknown>({
      method: 'GET',
      url: '/signing-keys',
      operationId: 'listSigningKeys',
      summary:
        'The published token-signing keys, oldest first; all of them with all=true (clavis admin signing-keys list)',
      tag: TAG,
      access: 'read',
      schema: {
        querystring: {
          type: 'object',
          properties: { ...pageQuerySchema, all: { type: 'boolean' } },
          additionalProperties: false,
        },
        responses: { 200: { description: 'The keys', schema: list(signingKeySchema) } },
      },
      handler: async ({ query }) => ({
        status: 200,
        body: pageOf(await adminSigningKeys.listSigningKeys(keys, { all: query.all === true }), query),
      }),
    }),
    route<unknown, unknown, { now?: boolean }>({
      method: 'POST',
      url: '/signing-keys/rotate',
      operationId: 'rotateSigningKeys',
      summary:
        'New signing keys now; the old ones stop signing, and with now=true leave the JWKS at once (clavis admin signing-keys rotate)',
      tag: TAG,
      access: 'destructive',
      optionalBody: true,
      schema: {
        body: body({ now: boolean }),
        responses: {
          200: { description: 'What was withdrawn and created', schema: signingKeysRotatedSchema },
        },
      },
      handler: async ({ body: b, caller }) => {
        const withdrawNow = b.now === true;
        const result = await adminSigningKeys.replaceSigningKeys(keys, { withdrawNow }, caller.actor);
        return { status: 200, body: signingKeysRotatedJson(withdrawNow, result) };
      },
    }),
  ];
}
