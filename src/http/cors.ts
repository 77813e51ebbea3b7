// CORS for the endpoints browser-based clients call (token, userinfo, JWKS, discovery): allowed only for
// origins a registered client declared, never for `null` or any other opaque origin, and never on the
// authorization endpoint (RFC 9700 §2.6), which is simply not registered here.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Storage } from '../storage/storage.ts';

const ORIGIN = /^https?:\/\/[^/\s]+$/;

type OnSendDone = (error: Error | null, payload: unknown) => void;

async function allowedOrigin(storage: Storage, request: FastifyRequest): Promise<string | undefined> {
  const origin = request.headers.origin;
  if (origin === undefined || !ORIGIN.test(origin)) return undefined;
  return (await storage.clients.hasCorsOrigin(origin)) ? origin : undefined;
}

/**
 * Adds CORS to the routes for `paths` registered in `scope` after this call, with a preflight for each. Other
 * routes of the scope (introspection, registration, …) get no CORS headers at all: browsers cannot call them
 * cross-origin, and they pay nothing for it.
 */
export function enableCors(scope: FastifyInstance, storage: Storage, paths: readonly string[]): void {
  // A callback hook rather than an async one: most requests carry no Origin and should pay nothing for CORS.
  const addCorsHeaders = (
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    done: OnSendDone,
  ) => {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin === undefined || !ORIGIN.test(origin)) return done(null, payload);
    storage.clients.hasCorsOrigin(origin).then(
      (allowed) => {
        if (allowed)
          reply
            .header('access-control-allow-origin', origin)
            .header('access-control-expose-headers', 'WWW-Authenticate');
        done(null, payload);
      },
      () => done(null, payload),
    );
  };
  const corsPaths = new Set(paths);
  scope.addHook('onRoute', (route) => {
    if (!corsPaths.has(route.url) || route.method === 'OPTIONS') return;
    const existing = route.onSend === undefined ? [] : [route.onSend].flat();
    route.onSend = [...existing, addCorsHeaders] as typeof route.onSend;
  });
  const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = await allowedOrigin(storage, request);
    if (!origin) return reply.code(403).send();
    return reply
      .code(204)
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-methods', 'GET, POST')
      .header('access-control-allow-headers', 'Authorization, Content-Type, DPoP')
      .header('access-control-max-age', '600')
      .send();
  };
  for (const path of paths) scope.options(path, preflight);
}
