// Read AI's GET /oauth/test-token-with-scopes: who a token speaks for, for which client, with which scopes.

import type { Verifier } from '@gatehouse/resource';
import { fastifyAuthenticate, tokenOf } from '@gatehouse/resource/fastify';
import type { FastifyInstance } from 'fastify';

export function registerTestToken(app: FastifyInstance, path: string, verifier: Verifier) {
  app.get(path, { preHandler: fastifyAuthenticate(verifier) }, async (request, reply) => {
    const token = tokenOf(request)!;
    reply.header('cache-control', 'no-store');
    return {
      sub: token.subject,
      client_id: token.clientId,
      scopes: token.scopes,
      expires_at: token.expiresAt ?? null,
    };
  });
}
