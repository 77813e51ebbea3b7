// Fastify: a plugin that decorates each request with `verifiedToken` and the instance with `requireToken(...)`
// (a preHandler per route), and can serve the RFC 9728 document; or `fastifyAuthenticate(...)` on its own, without
// the plugin. Only Fastify's types are imported: the package does not depend on Fastify.
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify';
import { bearerAnswer } from '../errors.ts';
import {
  METADATA_HEADERS,
  type ProtectedResourceMetadataInput,
  protectedResourceMetadata,
  protectedResourceMetadataPath,
} from '../metadata.ts';
import { rememberToken, tokenOf } from '../token-store.ts';
import { requireScopes, type VerifiedToken, type Verifier } from '../verify.ts';

export { tokenOf };

declare module 'fastify' {
  interface FastifyRequest {
    /** The token this request was verified with by `requireToken`; null on routes without it. */
    verifiedToken: VerifiedToken | null;
  }
  interface FastifyInstance {
    /** A preHandler that checks the request's token and that it carries every scope named. */
    requireToken(...scopes: string[]): preHandlerAsyncHookHandler;
  }
}

/**
 * A preHandler, no plugin needed: `{ preHandler: fastifyAuthenticate(verifier, 'meeting:read') }`, then
 * `tokenOf(request)`. Failures are answered here (RFC 6750) and never reach the handler.
 */
export function fastifyAuthenticate(verifier: Verifier, ...scopes: string[]): preHandlerAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const token = await verifier.verifyRequest({
        headers: request.headers,
        url: request.url,
        method: request.method,
      });
      requireScopes(token, ...scopes);
      rememberToken(request, token);
      if ('verifiedToken' in request) request.verifiedToken = token;
    } catch (error) {
      const answer = bearerAnswer(error, verifier.options);
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    }
  };
}

export interface GatehousePluginOptions {
  verifier: Verifier;
  /** When given, the plugin also serves this API's RFC 9728 document at its well-known path. */
  metadata?: ProtectedResourceMetadataInput | undefined;
}

/**
 * `await app.register(gatehouse, { verifier })`, then
 * `app.get('/meetings', { preHandler: app.requireToken('meeting:read') }, async (request) => request.verifiedToken)`.
 */
export const gatehouse: FastifyPluginCallback<GatehousePluginOptions> = (
  instance: FastifyInstance,
  options: GatehousePluginOptions,
  done: (error?: Error) => void,
) => {
  if (!options?.verifier) {
    done(new Error('@gatehouse/resource/fastify: pass { verifier: createVerifier({ … }) } to register()'));
    return;
  }
  instance.decorateRequest('verifiedToken', null);
  instance.decorate('requireToken', (...scopes: string[]) =>
    fastifyAuthenticate(options.verifier, ...scopes),
  );
  if (options.metadata) {
    const body = JSON.stringify(protectedResourceMetadata(options.metadata));
    instance.get(protectedResourceMetadataPath(options.metadata.resource), async (_request, reply) =>
      reply.headers(METADATA_HEADERS).send(body),
    );
  }
  done();
};

// What fastify-plugin does, without the dependency: the decorators apply to the instance that registered the
// plugin (no encapsulation), and errors name the plugin.
Object.assign(gatehouse, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@gatehouse/resource',
});

export default gatehouse;
