// One onResponse hook for every request: its log line and its metrics. Fastify's own request lines (two per
// request, with the URL and its query string) are off: a query string can carry codes, tokens, PKCE challenges
// and one-time setup links, so a request is known by its route pattern (`/oauth/register/:clientId`) and never
// by its URL.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LogController } from 'fastify';
import { type Metrics, UNMATCHED_ROUTE } from './metrics.ts';

/** Fastify's log lines without its two per request (observeRequests writes one); its error lines stay. */
export class RequestLogController extends LogController {
  override incomingRequest() {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    // A response that failed on the wire ("request errored"): the error is worth its own line.
    if (error) super.requestCompleted(error, request, reply);
  }

  /** Only Fastify's default 404 handler calls it (server.ts has its own), and it would print the query string. */
  override routeNotFound() {}
}

/** Probes that load balancers send every few seconds: logged at debug, not info. */
const HEALTH_ROUTES = new Set(['/health', '/health/live', '/health/ready']);

/** Whether a logger at this level writes info lines (pino's levels; a missing level is Fastify's null logger). */
const LOGS_INFO = new Set(['info', 'debug', 'trace']);

export function observeRequests(app: FastifyInstance, metrics: Metrics) {
  const logging = LOGS_INFO.has(app.log.level);
  // Neither wanted: no hook, so the request path costs nothing.
  if (!logging && !metrics.enabled) return;
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const durationMs = reply.elapsedTime;
    metrics.request(request.method, route, reply.statusCode, durationMs / 1000);
    if (logging) {
      const line = {
        method: request.method,
        route,
        status: reply.statusCode,
        durationMs: Math.round(durationMs * 100) / 100,
        ip: request.ip,
      };
      if (HEALTH_ROUTES.has(route)) request.log.debug(line, 'request');
      else request.log.info(line, 'request');
    }
    done();
  });
}
