// Liveness and readiness probes (as Kubernetes names them):
// - GET /health/live: the process runs and its event loop answers. Nothing else: restarting a process because
//   its database is down would not bring the database back.
// - GET /health/ready (and GET /health, kept for existing monitors): whether this process should get traffic.
//   503 while it shuts down (SECURITY.md R15) and when the database does not answer (fail closed, R4).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../deps.ts';

export function registerHealth(app: FastifyInstance, deps: Deps, draining: () => boolean = () => false) {
  app.get('/health/live', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });

  async function ready(request: FastifyRequest, reply: FastifyReply) {
    reply.header('cache-control', 'no-store');
    if (draining()) return reply.code(503).send({ status: 'unavailable', reason: 'shutting_down' });
    try {
      await deps.storage.ping();
      return { status: 'ok' };
    } catch (error) {
      request.log.warn({ err: error }, 'health check: database unreachable');
      return reply.code(503).send({ status: 'unavailable', reason: 'database_unavailable' });
    }
  }
  app.get('/health/ready', ready);
  app.get('/health', ready);
}
