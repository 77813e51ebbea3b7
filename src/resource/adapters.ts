// Thin adapters: Fastify (a preHandler) and Node's http / Express / Connect (a middleware). Each sends the
// RFC 6750 answer itself on failure and hands the verified token on on success.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BearerError } from './errors.ts';
import { requireScopes, type VerifiedToken, type Verifier } from './verify.ts';

const verified = new WeakMap<object, VerifiedToken>();

/** The token a Fastify request or Node request was verified with (set by the adapters below). */
export function tokenOf(request: object): VerifiedToken | undefined {
  return verified.get(request);
}

function answer(error: unknown, verifier: Verifier) {
  const bearer =
    error instanceof BearerError ? error : new BearerError('invalid_token', 'The access token is invalid');
  return {
    status: bearer.status,
    headers: {
      ...bearer.headers(verifier.options),
      'cache-control': 'no-store',
      'content-type': 'application/json; charset=utf-8',
    },
    body: JSON.stringify(bearer.body()),
  };
}

/** Fastify: `{ preHandler: fastifyAuthenticate(verifier, 'meeting:read') }`, then `tokenOf(request)`. */
export function fastifyAuthenticate(verifier: Verifier, ...scopes: string[]) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const token = await verifier.verifyRequest({ headers: request.headers, url: request.url });
      requireScopes(token, ...scopes);
      verified.set(request, token);
    } catch (error) {
      const { status, headers, body } = answer(error, verifier);
      return reply.code(status).headers(headers).send(body);
    }
  };
}

/** Node http / Express / Connect: `app.use(requireToken(verifier, 'meeting:read'))`, then `tokenOf(req)`. */
export function requireToken(verifier: Verifier, ...scopes: string[]) {
  return (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => {
    verifier
      .verifyRequest({ headers: request.headers, url: request.url })
      .then((token) => {
        requireScopes(token, ...scopes);
        verified.set(request, token);
        next();
      })
      .catch((error: unknown) => {
        const { status, headers, body } = answer(error, verifier);
        response.writeHead(status, headers).end(body);
      });
  };
}
