/**
 * The pages' immutable assets: the script and the organisation's logo, each at a path named after its
 * content's hash (cached for good; a new version is a new path). And the brand line (name and logo) put
 * into every page where the layout marks it.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config.js';
import { PAGE_SCRIPT, PAGE_SCRIPT_PATH } from './page_script.js';
import { brandHeader, logoPath } from './trust.js';
import { BRAND_MARKER } from './views.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';

export function registerPageAssets(scope: FastifyInstance, config: ServerConfig): void {
  scope.get(PAGE_SCRIPT_PATH, async (_request, reply) =>
    reply.header('cache-control', IMMUTABLE).type('text/javascript; charset=utf-8').send(PAGE_SCRIPT),
  );
  const logo = config.logo;
  if (logo) {
    scope.get(logoPath(logo), async (_request, reply) =>
      // An SVG opened by itself runs no script: the deny-all CSP of non-pages applies to it.
      reply.header('cache-control', IMMUTABLE).type(logo.contentType).send(logo.bytes),
    );
  }
  const marker = BRAND_MARKER.toString();
  const brand = brandHeader(config).toString();
  scope.addHook('onSend', async (_request, reply, payload) => {
    if (typeof payload !== 'string' || !String(reply.getHeader('content-type')).startsWith('text/html'))
      return payload;
    return payload.replace(marker, brand);
  });
}
