// Dialpad's deauthorize: POST with the app's bearer token and an empty body revokes every token the app holds
// for that user and forgets the consent. Dialpad's document names no content type, and client libraries label an
// empty POST as they like (application/json among them): an empty body is accepted with any label.

import type { Verifier } from '@gatehouse/resource';
import { fastifyAuthenticate, tokenOf } from '@gatehouse/resource/fastify';
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { acceptEmptyBodies } from '../../http/empty-body.ts';
import { deauthorize } from '../../oauth/deauthorize.ts';

export function registerDeauthorize(app: FastifyInstance, deps: Deps, verifier: Verifier) {
  // Its own scope: the empty-body parser is for this route only.
  app.register(async (scope) => {
    acceptEmptyBodies(scope);
    scope.post(
      deps.config.paths.deauthorize,
      { preHandler: fastifyAuthenticate(verifier) },
      async (request, reply) => {
        const token = tokenOf(request)!;
        reply.header('cache-control', 'no-store');
        // client_credentials tokens speak for no user: there is nothing to deauthorize.
        if (token.subject === token.clientId) return reply.code(200).send({ revoked: 0 });
        const revoked = await deauthorize(deps.storage, token.subject, token.clientId, deps.clock.now(), {
          actor: { kind: 'client', id: token.clientId },
          ip: request.ip,
        });
        return reply.code(200).send({ revoked });
      },
    );
  });
}
