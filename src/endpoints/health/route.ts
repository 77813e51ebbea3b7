// Liveness and readiness: 200 while the database answers, 503 when it does not (fail closed).
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';

export function registerHealth(app: FastifyInstance, deps: Deps) {
  app.get('/health', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    try {
      await deps.storage.ping();
      return { status: 'ok' };
    } catch (error) {
      request.log.warn({ err: error }, 'health check: database unreachable');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });
}
