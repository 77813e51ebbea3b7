// RFC 7517: the public signing keys, including rotated keys until every token they signed has expired.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';

export function registerJwks(app: FastifyInstance, deps: Deps) {
  app.get(deps.config.paths.jwks, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300').type('application/jwk-set+json');
    return deps.keys.jwks();
  });
}
