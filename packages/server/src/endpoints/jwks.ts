/** The published signing keys (previous, current, next). */
import type { FastifyInstance } from 'fastify';
import { paths } from '../config.js';
import type { KeyStore } from '../tokens/signing_keys.js';

export function registerJwks(app: FastifyInstance, keys: KeyStore): void {
  app.get(paths.jwks, (_request, reply) =>
    reply
      .header('cache-control', 'public, max-age=300')
      .type('application/jwk-set+json; charset=utf-8')
      .send(keys.jwksJson()),
  );
}
