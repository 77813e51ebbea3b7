// CORS for the endpoints browser-based clients call (token, userinfo, revocation, JWKS, discovery), never for
// `null` or any other opaque origin, and never on the authorization endpoint (RFC 9700 §2.6), which is simply
// not registered here. An origin is a client's own: one client registering an origin (anonymously, if
// registration is open) must not open another client's token or userinfo responses to it (docs/security.md A-15).
// - Client endpoints (token, revocation, userinfo): an actual response carries Access-Control-Allow-Origin only
//   if the client the request was for registered the request's origin. The route says which client that is,
//   once it knows (allowCorsFor): the authenticated client at token and revocation, the token's client at
//   userinfo. A response before that point (client authentication failed, a malformed request) carries none.
// - Public documents (JWKS, discovery): no client; any origin an active client registered, as before.
// - Preflights: a browser sends them without credentials, so the client is not known yet. They are answered
//   for an origin some active client registered; the actual response then decides.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Client, Storage } from '../storage/storage.ts';

const ORIGIN = /^https?:\/\/[^/\s]+$/;

type OnSendDone = (error: Error | null, payload: unknown) => void;

/** The origins of the client each in-flight request was for, as set by its route (no Fastify decorators). */
const servedClients = new WeakMap<FastifyRequest, readonly string[]>();

/** The request's origin if it could be allowed at all (a serialized http(s) origin), else undefined. */
export function corsOrigin(request: FastifyRequest): string | undefined {
  const origin = request.headers.origin;
  return origin !== undefined && ORIGIN.test(origin) ? origin : undefined;
}

/**
 * Tells the CORS hook which client this request was for, so that its response (errors included) is readable
 * by that client's registered origins and no other. Costs a WeakMap entry; no lookup.
 */
export function allowCorsFor(request: FastifyRequest, client: Pick<Client, 'allowedCorsOrigins'>): void {
  servedClients.set(request, client.allowedCorsOrigins);
}

async function allowedOrigin(storage: Storage, request: FastifyRequest): Promise<string | undefined> {
  const origin = corsOrigin(request);
  if (origin === undefined) return undefined;
  return (await storage.clients.hasCorsOrigin(origin)) ? origin : undefined;
}

function allow(reply: FastifyReply, origin: string): void {
  reply
    .header('access-control-allow-origin', origin)
    .header('access-control-expose-headers', 'WWW-Authenticate, DPoP-Nonce');
}

export interface CorsPaths {
  /** Answered only for the origins of the client the route names with allowCorsFor. */
  clients: readonly string[];
  /** Public documents: answered for any origin an active client registered. */
  documents: readonly string[];
}

/**
 * Adds CORS to the routes for `paths` registered in `scope` after this call, with a preflight for each. Other
 * routes of the scope (introspection, registration, …) get no CORS headers at all: browsers cannot call them
 * cross-origin, and they pay nothing for it.
 */
export function enableCors(scope: FastifyInstance, storage: Storage, paths: CorsPaths): void {
  // Callback hooks rather than async ones: most requests carry no Origin and should pay nothing for CORS.
  const forClient = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone) => {
    reply.header('vary', 'Origin');
    const origin = corsOrigin(request);
    if (origin !== undefined && servedClients.get(request)?.includes(origin)) allow(reply, origin);
    done(null, payload);
  };
  const forDocument = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone) => {
    reply.header('vary', 'Origin');
    const origin = corsOrigin(request);
    if (origin === undefined) return done(null, payload);
    storage.clients.hasCorsOrigin(origin).then(
      (allowed) => {
        if (allowed) allow(reply, origin);
        done(null, payload);
      },
      () => done(null, payload),
    );
  };
  const hooks = new Map<string, typeof forClient>([
    ...paths.clients.map((path) => [path, forClient] as const),
    ...paths.documents.map((path) => [path, forDocument] as const),
  ]);
  scope.addHook('onRoute', (route) => {
    const hook = hooks.get(route.url);
    if (!hook || route.method === 'OPTIONS') return;
    const existing = route.onSend === undefined ? [] : [route.onSend].flat();
    route.onSend = [...existing, hook] as typeof route.onSend;
  });
  // A preflight never carries credentials (Fetch, "CORS-preflight request"), so there is no client to ask yet:
  // any origin an active client registered. The actual response is held to the client's own origins.
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
  for (const path of hooks.keys()) scope.options(path, preflight);
}
