// Liveness and readiness probes (as Kubernetes names them):
// - GET /health/live: the process runs and its event loop answers. Nothing else: restarting a process because
//   its database is down would not bring the database back.
// - GET /health/ready (and GET /health, kept for existing monitors): whether this process should get traffic.
//   503 while it shuts down (docs/security.md R15), when the database does not answer, and when storage calls have
//   failed for an outage in the last 10 seconds (R4): a full disk leaves reads working while every write fails,
//   so answering `select 1` is not enough.
//
// A storage outage is logged once, at error level with its cause, when calls start failing (not once per
// request: each failed request logs only at info), and once at info when readiness finds it over.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../deps.ts';

/** How long after a storage call failed for an outage readiness keeps failing. */
export const OUTAGE_READINESS_MS = 10_000;

export function registerHealth(app: FastifyInstance, deps: Deps, draining: () => boolean = () => false) {
  let lastOutageAt = Number.NEGATIVE_INFINITY;
  let failing = false;
  const outage = (cause: unknown) => {
    lastOutageAt = deps.clock.now();
    if (failing) return;
    failing = true;
    app.log.error(
      { err: cause },
      'storage is failing: requests that need it answer 503 and readiness fails until it recovers',
    );
  };
  deps.storage.onOutage(outage);

  app.get('/health/live', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });

  async function ready(_request: FastifyRequest, reply: FastifyReply) {
    reply.header('cache-control', 'no-store');
    if (draining()) return reply.code(503).send({ status: 'unavailable', reason: 'shutting_down' });
    try {
      await deps.storage.ping();
    } catch (error) {
      outage(error);
      return reply.code(503).send({ status: 'unavailable', reason: 'database_unavailable' });
    }
    if (deps.clock.now() - lastOutageAt < OUTAGE_READINESS_MS) {
      return reply.code(503).send({ status: 'unavailable', reason: 'storage_failing' });
    }
    if (failing) {
      failing = false;
      app.log.info(`storage works again: no failure for ${OUTAGE_READINESS_MS / 1000} s`);
    }
    return { status: 'ok' };
  }
  app.get('/health/ready', ready);
  app.get('/health', ready);
}
